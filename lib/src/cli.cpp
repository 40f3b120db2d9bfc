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

static bool is_epipe(const std::string& what) {
    return what.find(std::strerror(EPIPE)) != std::string::npos;
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
        std::cout << options.help() << std::flush;
        std::exit(kExitOk);
    }
    if (result.count("version")) {
        std::cout << g_tool << " " << version_string() << "\n" << std::flush;
        std::exit(kExitOk);
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
