// launch.cpp - scvae-train --procs: one machine's cores as local data-parallel ranks.
//
// On a CPU, LibTorch's intra-op threads gain little on the small convolutions of 48-256 px crops, and under load
// their OpenMP barriers spin; N processes of one thread each, averaging gradients over Gloo (the torchrun path of
// train/dist.cpp), use N cores fully. The launcher starts this program again N times with the torchrun
// variables set and the per-process batch and threads on the command line; rank 0 writes the run directory.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "scvae/error.h"
#include "scvae/io.h"
#include "scvae-train/launch.h"

#include "cli.h"

namespace scvae {

namespace {

constexpr int kMaxAutoProcs = 8;

volatile sig_atomic_t g_forwarded = 0;
pid_t g_children[256];
volatile sig_atomic_t g_nchildren = 0;

extern "C" void forward_signal(int sig) {
    g_forwarded = sig;
    for (int i = 0; i < g_nchildren; ++i)
        if (g_children[i] > 0) kill(g_children[i], sig);
}

// A TCP port on 127.0.0.1 that was free a moment ago (the kernel's choice).
int free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw Error(std::string("cannot open a socket for the local ranks: ") + std::strerror(errno));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        int e = errno;
        close(fd);
        throw Error(std::string("cannot find a free port for the local ranks: ") + std::strerror(e));
    }
    close(fd);
    return ntohs(a.sin_port);
}

// The process count a run directory was started with (1 for runs from before --procs, or under torchrun).
int saved_procs(const std::string& run_dir) {
    std::ifstream f(run_dir + "/options.json");
    if (!f) return 1;  // train_main reports the missing file
    std::stringstream ss;
    ss << f.rdbuf();
    auto j = nlohmann::json::parse(ss.str(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) return 1;
    int p = j.value("procs", 1);
    return p >= 1 ? p : 1;
}

int status_code(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 1;
}

}  // namespace

int local_procs(const TrainOptions& o, int cpus) {
    if (o.world_size != 1) return 1;  // a rank of torchrun, Slurm or of a launcher already
    const bool stdin_input = std::find(o.files_from.begin(), o.files_from.end(), "-") != o.files_from.end();
    if (o.procs > 0) {
        if (o.procs > 1 && o.device != "cpu")
            throw UsageError("--procs: local processes are for CPU training (use torchrun for several GPUs)");
        if (o.procs > 1 && stdin_input)
            throw UsageError("--procs: --files-from - (stdin) can be read by one process only; use --procs 1");
        if (o.resume.empty() && o.batch % o.procs != 0)
            throw UsageError("--batch " + std::to_string(o.batch) + " does not split evenly over --procs " +
                             std::to_string(o.procs));
        return o.procs;
    }
    if (!o.resume.empty()) return saved_procs(o.resume);
    if (o.device != "cpu" || o.threads > 0 || stdin_input) return 1;
    int n = std::min({cpus, kMaxAutoProcs, o.batch});
    while (n > 1 && o.batch % n != 0) --n;
    return std::max(1, n);
}

int launch_local_procs(const TrainOptions& o) {
    if (o.world_size != 1) return -1;
    // A library caller's TrainOptions has no command line to start again: it trains in its own process.
    if (o.argv.empty() && o.procs <= 1) return -1;
    const int cpus = available_cpus();
    const int n = local_procs(o, cpus);
    if (n <= 1) return -1;
    if (o.argv.empty()) throw Error("procs > 1 needs TrainOptions::argv (the command line that starts each rank)");
    if (n > static_cast<int>(sizeof g_children / sizeof g_children[0]))
        throw UsageError("--procs: at most 256 local processes");
    const int threads = o.threads > 0 ? o.threads : std::max(1, cpus / n);
    const int port = free_port();

    // The per-rank flags go last among the options (cxxopts keeps the last value), before a "--".
    std::vector<std::string> args = o.argv;
    std::vector<std::string> extra = {"--procs", std::to_string(n), "--threads", std::to_string(threads)};
    if (o.resume.empty()) {
        extra.push_back("--batch");
        extra.push_back(std::to_string(o.batch / n));
    }
    auto dashdash = std::find(args.begin() + 1, args.end(), std::string("--"));
    args.insert(dashdash, extra.begin(), extra.end());
    std::vector<char*> cargv;
    for (auto& a : args) cargv.push_back(a.data());
    cargv.push_back(nullptr);

    struct sigaction sa {}, old_int {}, old_term {}, old_hup {};
    sa.sa_handler = forward_signal;
    sigemptyset(&sa.sa_mask);
    g_forwarded = 0;
    g_nchildren = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);
    auto restore = [&]() {
        sigaction(SIGINT, &old_int, nullptr);
        sigaction(SIGTERM, &old_term, nullptr);
        sigaction(SIGHUP, &old_hup, nullptr);
    };

    // Ranks other than 0 would repeat rank 0's messages (a bad image, a missing folder): their standard error goes
    // to an unlinked temporary file and is shown only when rank 0 did not report an error of its own.
    std::vector<FILE*> captured(size_t(n), nullptr);
    for (int r = 1; r < n; ++r) captured[size_t(r)] = std::tmpfile();
    struct CloseCaptured {
        std::vector<FILE*>& files;
        ~CloseCaptured() {
            for (FILE* f : files)
                if (f) std::fclose(f);
        }
    } close_captured{captured};

    std::fflush(stdout);
    std::fflush(stderr);
    for (int r = 0; r < n; ++r) {
        pid_t pid = fork();
        if (pid < 0) {
            int e = errno;
            for (int i = 0; i < g_nchildren; ++i) kill(g_children[i], SIGTERM);
            restore();
            throw Error(std::string("--procs: cannot start a process: ") + std::strerror(e));
        }
        if (pid == 0) {
            signal(SIGINT, SIG_DFL);
            signal(SIGTERM, SIG_DFL);
            signal(SIGHUP, SIG_DFL);
            if (captured[size_t(r)]) dup2(fileno(captured[size_t(r)]), STDERR_FILENO);
            setenv("WORLD_SIZE", std::to_string(n).c_str(), 1);
            setenv("RANK", std::to_string(r).c_str(), 1);
            setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
            setenv("MASTER_ADDR", "127.0.0.1", 1);
            setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
            execv("/proc/self/exe", cargv.data());
            std::fprintf(stderr, "scvae-train: rank %d: cannot start: %s\n", r, std::strerror(errno));
            _exit(127);
        }
        g_children[r] = pid;
        g_nchildren = r + 1;
    }

    // Wait for every rank. When one fails, the others would wait for it in the next all-reduce until the
    // rendezvous timeout: stop them (SIGTERM, then SIGKILL, after grace periods).
    int rc = 0, alive = n, rank0 = 0;
    bool failed = false, termed = false;
    auto failed_at = std::chrono::steady_clock::now();
    std::vector<bool> done(size_t(n), false);
    while (alive > 0) {
        int status = 0;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid < 0 && errno != EINTR) break;
        if (pid <= 0) {
            // The others usually fail on their own within moments (the same bad data, or Gloo noticing the
            // lost peer) and report it; after 5 s they are asked to stop, after 15 s killed.
            const auto since = std::chrono::steady_clock::now() - failed_at;
            if (failed && !termed && since > std::chrono::seconds(5)) {
                termed = true;
                for (int i = 0; i < n; ++i)
                    if (!done[size_t(i)]) kill(g_children[i], SIGTERM);
            }
            if (failed && since > std::chrono::seconds(15))
                for (int i = 0; i < n; ++i)
                    if (!done[size_t(i)]) kill(g_children[i], SIGKILL);
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            continue;
        }
        for (int i = 0; i < n; ++i) {
            if (g_children[i] != pid) continue;
            done[size_t(i)] = true;
            --alive;
            int code = status_code(status);
            if (i == 0) rank0 = code;
            if (code != 0 && rc == 0) rc = code;
            if (code != 0 && !failed && !g_forwarded) {
                failed = true;
                failed_at = std::chrono::steady_clock::now();
            }
        }
    }
    g_nchildren = 0;
    restore();
    // Rank 0 exits 1 (data or runtime error) or 2 (usage error, e.g. a --size the model cannot take) after
    // reporting its own error; otherwise (it succeeded, or was stopped because another rank failed) the other
    // ranks' messages are the news.
    if (rank0 != 1 && rank0 != 2)
        for (int r = 1; r < n; ++r) {
            FILE* f = captured[size_t(r)];
            if (!f) continue;
            std::rewind(f);
            char buf[4096];
            size_t got;
            while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) std::fwrite(buf, 1, got, stderr);
        }
    return rc;
}

}  // namespace scvae
