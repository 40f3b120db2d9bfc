// options.cpp - the option table (options.h) over cxxopts: cxxopts splits the command line and renders
// --help; the table owns the types, the defaults and the checks.
#include "options.h"

namespace scvae {

namespace {

std::string long_of(const std::string& names) {
    const size_t comma = names.find(',');
    return comma == std::string::npos ? names : names.substr(comma + 1);
}

}  // namespace

OptionTable::OptionTable(std::string tool, std::string description)
    : tool_(std::move(tool)), description_(std::move(description)) {}

OptionTable::Option& OptionTable::add(const std::string& names, const std::string& arg, const std::string& help,
                                      std::function<void(const std::string&)> set, const std::string& default_text) {
    Option o;
    o.names = names;
    o.long_name = long_of(names);
    o.arg = arg;
    o.help = help;
    o.default_text = default_text;
    o.label = "--" + o.long_name;
    o.takes_value = !arg.empty();
    o.set = std::move(set);
    options_.push_back(std::move(o));
    return options_.back();
}

OptionTable& OptionTable::flag(const std::string& names, const std::string& help, bool& out) {
    add(names, "", help, [&out](const std::string&) { out = true; }, "");
    return *this;
}

OptionTable& OptionTable::text(const std::string& names, const std::string& arg, const std::string& help,
                               std::string& out) {
    add(names, arg, help, [&out](const std::string& v) { out = v; }, out);
    return *this;
}

OptionTable& OptionTable::text(const std::string& names, const std::string& arg, const std::string& help,
                               std::optional<std::string>& out) {
    add(names, arg, help, [&out](const std::string& v) { out = v; }, "");
    return *this;
}

OptionTable& OptionTable::integer(const std::string& names, const std::string& arg, const std::string& help, int& out,
                                  int64_t lo, int64_t hi) {
    Option& o = add(names, arg, help, nullptr, std::to_string(out));
    o.set = [&out, lo, hi, &o](const std::string& v) { out = static_cast<int>(parse_integer(o.label, v, lo, hi)); };
    return *this;
}

OptionTable& OptionTable::integer(const std::string& names, const std::string& arg, const std::string& help,
                                  std::optional<int>& out, int64_t lo, int64_t hi) {
    Option& o = add(names, arg, help, nullptr, "");
    o.set = [&out, lo, hi, &o](const std::string& v) { out = static_cast<int>(parse_integer(o.label, v, lo, hi)); };
    return *this;
}

OptionTable& OptionTable::integer(const std::string& names, const std::string& arg, const std::string& help,
                                  int64_t& out, int64_t lo, int64_t hi) {
    Option& o = add(names, arg, help, nullptr, std::to_string(out));
    o.set = [&out, lo, hi, &o](const std::string& v) { out = parse_integer(o.label, v, lo, hi); };
    return *this;
}

OptionTable& OptionTable::integer(const std::string& names, const std::string& arg, const std::string& help,
                                  uint64_t& out, int64_t lo, int64_t hi) {
    Option& o = add(names, arg, help, nullptr, std::to_string(out));
    o.set = [&out, lo, hi, &o](const std::string& v) { out = static_cast<uint64_t>(parse_integer(o.label, v, lo, hi)); };
    return *this;
}

OptionTable& OptionTable::number(const std::string& names, const std::string& arg, const std::string& help,
                                 double& out, double lo, double hi) {
    Option& o = add(names, arg, help, nullptr, number_text(out));
    o.set = [&out, lo, hi, &o](const std::string& v) { out = parse_number(o.label, v, lo, hi); };
    return *this;
}

OptionTable& OptionTable::number(const std::string& names, const std::string& arg, const std::string& help,
                                 std::optional<double>& out, double lo, double hi) {
    Option& o = add(names, arg, help, nullptr, "");
    o.set = [&out, lo, hi, &o](const std::string& v) { out = parse_number(o.label, v, lo, hi); };
    return *this;
}

OptionTable& OptionTable::choice(const std::string& names, const std::string& arg, const std::string& help,
                                 std::string& out, std::vector<std::string> choices) {
    Option& o = add(names, arg, help, nullptr, out);
    o.set = [&out, choices, &o](const std::string& v) {
        for (const auto& c : choices)
            if (v == c) {
                out = v;
                return;
            }
        std::string list;
        for (size_t i = 0; i < choices.size(); ++i)
            list += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
        throw UsageError(o.label + ": expected " + list + ", got '" + v + "'");
    };
    return *this;
}

OptionTable& OptionTable::list(const std::string& names, const std::string& arg, const std::string& help,
                               std::vector<std::string>& out) {
    add(names, arg, help, [&out](const std::string& v) { out.push_back(v); }, "").repeatable = true;
    return *this;
}

OptionTable& OptionTable::custom(const std::string& names, const std::string& arg, const std::string& help,
                                 std::function<void(const std::string&)> set, const std::string& default_text,
                                 bool repeatable) {
    add(names, arg, help, std::move(set), default_text).repeatable = repeatable;
    return *this;
}

OptionTable& OptionTable::positional(const std::string& usage_name, std::vector<std::string>& out) {
    positional_ = &out;
    positional_name_ = usage_name;
    return *this;
}

OptionTable& OptionTable::message_name(const std::string& name) {
    options_.back().label = name;
    return *this;
}

void OptionTable::parse(int argc, char** argv) {
    cxxopts::Options c(tool_, description_);
    auto adder = c.add_options();
    for (const auto& o : options_) {
        if (!o.takes_value) {
            adder(o.names, o.help);
            continue;
        }
        std::shared_ptr<cxxopts::Value> v;
        if (o.repeatable)
            v = cxxopts::value<std::vector<std::string>>();
        else if (!o.default_text.empty())
            v = cxxopts::value<std::string>()->default_value(o.default_text);
        else
            v = cxxopts::value<std::string>();
        adder(o.names, o.help, v, o.arg);
    }
    adder("h,help", "show this help")("version", "show the version");
    if (positional_) {
        adder("positional-arguments", "", cxxopts::value<std::vector<std::string>>());
        c.parse_positional({"positional-arguments"});
        c.positional_help(positional_name_);
    }
    const cxxopts::ParseResult r = parse_or_usage(c, argc, argv);
    // In command-line order, so that repeated options apply in the order given.
    for (const auto& kv : r.arguments()) {
        for (auto& o : options_) {
            if (o.long_name != kv.key()) continue;
            given_.insert(o.long_name);
            o.set(kv.value());
        }
    }
    if (positional_ && r.count("positional-arguments")) {
        *positional_ = r["positional-arguments"].as<std::vector<std::string>>();
        given_.insert("inputs");
    }
    if (!positional_ && !r.unmatched().empty()) {
        // "scvae-model init: ..." says "init: unexpected argument"; a tool without a command says none
        const size_t space = tool_.rfind(' ');
        const std::string command = space == std::string::npos ? "" : tool_.substr(space + 1) + ": ";
        throw UsageError(command + "unexpected argument '" + r.unmatched()[0] + "'");
    }
}

namespace common {

void model(OptionTable& t, std::optional<std::string>& path) {
    t.text("m,model", "FILE", "model file (default: $SCVAE_MODEL, else the bundled model)", path);
}

void output(OptionTable& t, std::string& path, const std::string& help) { t.text("o,output", "FILE", help, path); }

void threads(OptionTable& t, std::optional<int>& n) {
    t.integer("t,threads", "N", "CPU threads (default: every CPU this process may use)", n, 1, 4096);
}

void device(OptionTable& t, std::string& device) { t.text("device", "NAME", "cpu or cuda", device); }

void batch(OptionTable& t, int& n, const std::string& help) { t.integer("b,batch", "N", help, n, 1, 4096); }

void quiet(OptionTable& t, bool& quiet, const std::string& help) { t.flag("q,quiet", help, quiet); }

}  // namespace common

}  // namespace scvae
