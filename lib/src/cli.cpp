// cli.cpp - exit codes, messages and option parsing shared by every scvae program.
#include "scvae/cli.h"

#include <cmath>
#include <csignal>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "scvae/error.h"
#include "scvae/io.h"
#include "scvae/runtime.h"

#ifndef SCVAE_VERSION
#define SCVAE_VERSION "0.0.0"
#endif

namespace scvae {

static std::string g_tool = "scvae";

const std::string& tool_name() { return g_tool; }

void warn(const std::string& message) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s: %s\n", g_tool.c_str(), message.c_str());
}

std::string version_string() { return std::string(SCVAE_VERSION); }

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
    g_tool = name;
    tune_allocator();
    std::signal(SIGPIPE, SIG_IGN);
    int rc = kExitOk;
    try {
        rc = body(argc, argv);
        finish_stdout();
    } catch (const UsageError& e) {
        warn(e.what());
        std::fprintf(stderr, "Try '%s --help' for more information.\n", g_tool.c_str());
        return kExitUsage;
    } catch (const cxxopts::exceptions::exception& e) {
        warn(e.what());
        std::fprintf(stderr, "Try '%s --help' for more information.\n", g_tool.c_str());
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
        std::cout << g_tool << " " << version_string() << "\n";
        exit_after_printing();
    }
    return result;
}

int parse_int_option(const std::string& option, const std::string& value, int min_value, int max_value) {
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || errno == ERANGE || v < min_value || v > max_value)
        throw UsageError(option + ": expected an integer in [" + std::to_string(min_value) + ", " +
                         std::to_string(max_value) + "], got '" + value + "'");
    return static_cast<int>(v);
}

double parse_double_option(const std::string& option, const std::string& value) {
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v))
        throw UsageError(option + ": expected a number, got '" + value + "'");
    return v;
}

}  // namespace scvae
