// cli.h - what every scvae program shares: exit codes, messages, option parsing helpers.
//
// A tool's main() is a few lines:
//
//   int main(int argc, char** argv) {
//       return scvae::run_tool("scvae-encode", argc, argv, [](int argc, char** argv) {
//           EncodeOptions opt = parse_encode_options(argc, argv);   // throws UsageError
//           return scvae::encode_main(opt);                         // throws Error
//       });
//   }
//
// Exit codes: 0 ok, 1 data/runtime error, 2 usage error. stdout carries data only; messages go to stderr
// as "<tool>: <message>".
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

// cxxopts splits the values of std::vector options on a delimiter (',' by default), which would split file
// names such as "IMG 1, 2.png" in two. No argument can hold a NUL byte, so NUL as the delimiter means never
// split: every byte of a positional argument but NUL passes through. This header is the only place that
// includes cxxopts, so every translation unit sees the same definition.
#ifdef CXXOPTS_VECTOR_DELIMITER
#error "cxxopts must be included through cli.h"
#endif
#define CXXOPTS_VECTOR_DELIMITER '\0'
#include <cxxopts.hpp>

#include "scvae/error.h"
#include "scvae/io.h"

namespace scvae {

// A wrong command line (unknown option, bad value, options that contradict each other): exit 2. Only the tools
// throw it; the library's InvalidArgument (scvae/error.h) maps to the same exit code.
struct UsageError : InvalidArgument {
    using InvalidArgument::InvalidArgument;
};

constexpr int kExitOk = 0;
constexpr int kExitData = 1;
constexpr int kExitUsage = 2;

// The running tool's name (set by run_tool: scvae::program_name()), for messages.
const std::string& tool_name();

// Runs body, mapping UsageError and InvalidArgument -> 2 (with "Try '<tool> --help'."), Error and std::exception -> 1,
// cxxopts parse errors -> 2. Flushes stdout and reports write errors (exit 1). Ignores SIGPIPE so a closed
// pipe surfaces as a write error, reported once and quietly for EPIPE.
int run_tool(const std::string& name, int argc, char** argv, const std::function<int(int, char**)>& body);

// Parses with cxxopts, turning its exceptions into UsageError; handles --help (prints help to stdout and
// exits 0) and --version.
cxxopts::ParseResult parse_or_usage(cxxopts::Options& options, int argc, char** argv);

// Parses "--threads" style integers etc. with a clear UsageError ("--threads: expected a positive integer, got 'x'").
int parse_int_option(const std::string& option, const std::string& value, int min_value, int max_value);
double parse_double_option(const std::string& option, const std::string& value);
// The same over int64 (the option table's integers), and a number within [lo, hi] ("expected a number >= 0").
int64_t parse_integer(const std::string& option, const std::string& value, int64_t lo, int64_t hi);
double parse_number(const std::string& option, const std::string& value, double lo, double hi);
// A number as messages and --help show it ("%g": 0.0001, 1e-08).
std::string number_text(double v);

// Refuses binary output to a terminal, as gzip does: throws UsageError with a hint to use --json or -o.
void refuse_binary_to_terminal(const std::string& out_path);
// The same for other binary data: "refusing to write <what> to a terminal; <hint>".
void refuse_binary_to_terminal(const std::string& out_path, const std::string& what, const std::string& hint);

// Parses "I/N" (0 <= I < N) for --shard; throws UsageError.
struct Shard {
    int index = 0;
    int count = 1;
};
Shard parse_shard(const std::string& spec);


}  // namespace scvae
