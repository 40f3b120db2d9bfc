// options.h - one typed option table per tool.
//
// A tool declares each option once, bound to the field of its options struct that receives it:
//
//   scvae::OptionTable t("scvae-encode", "Turn images into sparse codes ...\nUsage: scvae-encode [options] IMAGE...");
//   scvae::common::model(t, opt.model);                       // -m/--model FILE, shared wording
//   t.flag("j,json", "write JSON Lines instead of the binary stream", opt.json);
//   t.integer("b,batch", "N", "images per network batch", opt.batch, 1, 4096);   // default shown: opt.batch
//   t.positional("IMAGE|FOLDER...", opt.inputs);
//   t.parse(argc, argv);                                       // throws UsageError; -h/--help, --version
//
// The field's value before parse() is the default, stated once: --help shows it as "(default: X)". Fields of
// type std::optional<T> have none and stay empty unless given. given("batch") tells whether an option was on
// the command line. --help is generated from the table; tests/cli/options.bats checks every tool's --help
// against its man page's OPTIONS section and both shell completions.
//
// Values are checked here, with messages that name the option: "--batch: expected an integer in [1, 4096],
// got 'x'", "--solver: expected lista, ista or fista, got 'x'".
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cli.h"

namespace scvae {

class OptionTable {
public:
    // `description` is the first lines of --help: what the tool does, then its "Usage:" line(s).
    OptionTable(std::string tool, std::string description);

    // Each binding takes the option's names ("b,batch" or "batch"), for valued options the name of the value
    // in --help and the man page ("N", "FILE"), the help text, and the field it fills.
    OptionTable& flag(const std::string& names, const std::string& help, bool& out);
    OptionTable& text(const std::string& names, const std::string& arg, const std::string& help, std::string& out);
    OptionTable& text(const std::string& names, const std::string& arg, const std::string& help,
                      std::optional<std::string>& out);
    OptionTable& integer(const std::string& names, const std::string& arg, const std::string& help, int& out,
                         int64_t lo, int64_t hi);
    OptionTable& integer(const std::string& names, const std::string& arg, const std::string& help,
                         std::optional<int>& out, int64_t lo, int64_t hi);
    OptionTable& integer(const std::string& names, const std::string& arg, const std::string& help, int64_t& out,
                         int64_t lo, int64_t hi);
    OptionTable& integer(const std::string& names, const std::string& arg, const std::string& help, uint64_t& out,
                         int64_t lo, int64_t hi);
    OptionTable& number(const std::string& names, const std::string& arg, const std::string& help, double& out,
                        double lo, double hi);
    OptionTable& number(const std::string& names, const std::string& arg, const std::string& help,
                        std::optional<double>& out, double lo, double hi);
    // One of `choices`; the message lists them.
    OptionTable& choice(const std::string& names, const std::string& arg, const std::string& help, std::string& out,
                        std::vector<std::string> choices);
    // Repeatable: every occurrence is appended, in command-line order.
    OptionTable& list(const std::string& names, const std::string& arg, const std::string& help,
                      std::vector<std::string>& out);
    // A value with its own parser (called once per occurrence, in command-line order); `default_text` for --help
    // (an option marked repeatable shows none).
    OptionTable& custom(const std::string& names, const std::string& arg, const std::string& help,
                        std::function<void(const std::string&)> set, const std::string& default_text = "",
                        bool repeatable = false);
    // The positional arguments (at most one binding per table).
    OptionTable& positional(const std::string& usage_name, std::vector<std::string>& out);

    // How the last option added is named in messages (default "--long"; e.g. "-k").
    OptionTable& message_name(const std::string& name);

    // Parses, fills the bound fields, and handles --help (prints it, exits 0) and --version. Throws
    // UsageError for an unknown option, a missing or malformed value.
    void parse(int argc, char** argv);

    // Whether an option was on the command line, by long name ("inputs" for positional arguments).
    bool given(const std::string& long_name) const { return given_.count(long_name) > 0; }
    const std::set<std::string>& given() const { return given_; }

private:
    struct Option {
        std::string names, long_name, arg, help, default_text, label;
        bool takes_value = false;
        bool repeatable = false;
        std::function<void(const std::string&)> set;
    };
    Option& add(const std::string& names, const std::string& arg, const std::string& help,
                std::function<void(const std::string&)> set, const std::string& default_text);

    std::string tool_, description_;
    std::deque<Option> options_;  // a deque: the bindings refer to their option (its message name)
    std::vector<std::string>* positional_ = nullptr;
    std::string positional_name_;
    std::set<std::string> given_;
};

// The options several tools share, worded once.
namespace common {
void model(OptionTable& t, std::optional<std::string>& path);  // -m, --model FILE
void output(OptionTable& t, std::string& path, const std::string& help);  // -o, --output FILE
void threads(OptionTable& t, std::optional<int>& n);           // -t, --threads N
void device(OptionTable& t, std::string& device);              // --device cpu|cuda
void batch(OptionTable& t, int& n, const std::string& help);   // -b, --batch N
void quiet(OptionTable& t, bool& quiet, const std::string& help = "no progress count on a terminal");  // -q
}  // namespace common

}  // namespace scvae
