// cli.cpp - exit codes, messages and option parsing shared by every scvae program.
#include "cli.h"

#include <cmath>
#include <csignal>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <unistd.h>
#include <iostream>

#include "scvae/error.h"
#include "scvae/io.h"
#include "scvae/runtime.h"

namespace scvae {

const std::string& tool_name() { return program_name(); }

// The one write-error policy of every tool: SIGPIPE is ignored, so that a write to a closed pipe fails with
// EPIPE; that ends the tool quietly with status 1 (the reader has all it wanted, as with jq or gzip). Every
// other write error names the output and the system's reason ("<stdout>: write error: No space left on
// device"), status 1.
static bool is_epipe(const std::string& what) {
    return what.find(std::strerror(EPIPE)) != std::string::npos;
}

// Ends the process after --help or --version, with the write-error policy above.
[[noreturn]] static void exit_after_printing() {
    try {
        finish_stdout();
    } catch (const Error& e) {
        if (!is_epipe(e.what())) warn(e.what());
        std::exit(kExitData);
    }
    std::exit(kExitOk);
}

int run_tool(const std::string& name, int argc, char** argv, const std::function<int(int, char**)>& body) {
    set_program_name(name);
    tune_allocator();
    std::signal(SIGPIPE, SIG_IGN);
    int rc = kExitOk;
    try {
        rc = body(argc, argv);
        finish_stdout();
    } catch (const UsageError& e) {
        warn(e.what());
        std::fprintf(stderr, "Try '%s --help' for more information.\n", tool_name().c_str());
        return kExitUsage;
    } catch (const cxxopts::exceptions::exception& e) {
        warn(e.what());
        std::fprintf(stderr, "Try '%s --help' for more information.\n", tool_name().c_str());
        return kExitUsage;
    } catch (const InvalidArgument& e) {  // the library's word for a value the command line gave
        warn(e.what());
        std::fprintf(stderr, "Try '%s --help' for more information.\n", tool_name().c_str());
        return kExitUsage;
    } catch (const Error& e) {
        if (!is_epipe(e.what())) warn(e.what());
        return kExitData;
    } catch (const std::bad_alloc&) {
        warn("out of memory");
        return kExitData;
    } catch (const std::exception& e) {
        warn(e.what());
        return kExitData;
    }
    return rc;
}

cxxopts::ParseResult parse_or_usage(cxxopts::Options& options, int argc, char** argv) {
    cxxopts::ParseResult result;
    try {
        result = options.parse(argc, argv);
    } catch (const cxxopts::exceptions::exception& e) {
        throw UsageError(e.what());
    }
    if (result.count("help")) {
        // The tools give their own usage lines (several forms) in the description: drop the generic
        // "Usage: tool [OPTION...]" block that cxxopts adds after it, so that there is one.
        std::string h = options.help();
        const size_t own = h.find("Usage:");
        const size_t generic = own == std::string::npos ? own : h.find("\nUsage:\n", own + 1);
        if (generic != std::string::npos) {
            const size_t end = h.find("\n\n", generic + 1);
            if (end != std::string::npos) h.erase(generic, end - generic + 1);
        }
        std::cout << h;
        exit_after_printing();
    }
    if (result.count("version")) {
        std::cout << tool_name() << " " << version_string() << "\n";
        exit_after_printing();
    }
    return result;
}

int parse_int_option(const std::string& option, const std::string& value, int min_value, int max_value) {
    return static_cast<int>(parse_integer(option, value, min_value, max_value));
}


std::string number_text(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

int64_t parse_integer(const std::string& option, const std::string& value, int64_t lo, int64_t hi) {
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || errno == ERANGE || v < lo || v > hi)
        throw UsageError(option + ": expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                         "], got '" + value + "'");
    return v;
}

double parse_number(const std::string& option, const std::string& value, double lo, double hi) {
    const double v = parse_double_option(option, value);
    if (v < lo || v > hi) {
        const std::string range = std::isinf(hi)   ? ">= " + number_text(lo)
                                  : std::isinf(lo) ? "<= " + number_text(hi)
                                                   : "in [" + number_text(lo) + ", " + number_text(hi) + "]";
        throw UsageError(option + ": expected a number " + range + ", got '" + value + "'");
    }
    return v;
}

double parse_double_option(const std::string& option, const std::string& value) {
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v))
        throw UsageError(option + ": expected a number, got '" + value + "'");
    return v;
}

void refuse_binary_to_terminal(const std::string& out_path) {
    refuse_binary_to_terminal(out_path, "binary codes", "use --json, -o FILE or a pipe");
}

void refuse_binary_to_terminal(const std::string& out_path, const std::string& what, const std::string& hint) {
    if (out_path == "-" && is_terminal(STDOUT_FILENO))
        throw UsageError("refusing to write " + what + " to a terminal; " + hint);
}

Shard parse_shard(const std::string& spec) {
    size_t slash = spec.find('/');
    auto bad = [&]() { return UsageError("--shard: expected I/N with 0 <= I < N, got '" + spec + "'"); };
    if (slash == std::string::npos) throw bad();
    Shard s;
    try {
        size_t p1 = 0, p2 = 0;
        std::string a = spec.substr(0, slash), b = spec.substr(slash + 1);
        s.index = std::stoi(a, &p1);
        s.count = std::stoi(b, &p2);
        if (p1 != a.size() || p2 != b.size()) throw bad();
    } catch (const std::logic_error&) {
        throw bad();
    }
    if (s.count < 1 || s.index < 0 || s.index >= s.count) throw bad();
    return s;
}

}  // namespace scvae
