// io.cpp - files, pipes and atomic output.
#include "scvae/io.h"

#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>

#include "scvae/error.h"

namespace scvae {

namespace {
std::string g_program = "scvae";
}  // namespace

void set_program_name(const std::string& name) { g_program = name; }

const std::string& program_name() { return g_program; }

std::string version_string() { return SCVAE_VERSION; }

Progress::Progress(bool quiet, std::string what, size_t total)
    : quiet_(quiet), live_(!quiet && is_terminal(STDERR_FILENO)), what_(std::move(what)), total_(total) {}

Progress::~Progress() { end_line(); }

void Progress::count(size_t done) {
    if (!live_) return;
    if (total_ > 0 && done > total_) total_ = 0;  // more items than announced (a netpbm stream): a plain count
    show(total_ > 0 ? std::to_string(done) + "/" + std::to_string(total_) + " " + what_
                    : std::to_string(done) + " " + what_,
         true);
}

void Progress::show(const std::string& text, bool force) {
    if (!live_) return;
    const double now =
        std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    if (!force && last_ >= 0 && now - last_ < 0.2) return;
    last_ = now;
    std::fprintf(stderr, "\r\033[K%s: %s", g_program.c_str(), text.c_str());
    std::fflush(stderr);
    shown_ = true;
}

void Progress::message(const std::string& text) {
    if (quiet_) return;
    end_line();
    warn(text);
}

void Progress::end_line() {
    if (shown_) std::fputc('\n', stderr);
    shown_ = false;
}

void warn(const std::string& message) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s: %s\n", g_program.c_str(), message.c_str());
}

std::string display_name(const std::string& path, bool output) {
    if (path == "-") return output ? "<stdout>" : "<stdin>";
    return path;
}

static std::string errno_text() { return std::strerror(errno); }

// Creates the missing folders above `path` (as mkdir -p does), so that an output pattern such as
// 'rec/{stem}.png' works in a fresh folder. Errors are left to the caller's create, which names the reason.
static void make_parent_folders(const std::string& path) {
    for (size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
        std::string dir = path.substr(0, slash);
        if (dir.empty() || dir.back() == '/') continue;
        if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) return;
    }
}

std::vector<uint8_t> read_file(const std::string& path) {
    InputFile in(path);
    std::vector<uint8_t> out;
    uint8_t buf[1 << 16];
    size_t got;
    while ((got = std::fread(buf, 1, sizeof buf, in.get())) > 0) out.insert(out.end(), buf, buf + got);
    if (std::ferror(in.get())) throw error_at(in.name(), "read error: " + errno_text());
    return out;
}

InputFile::InputFile(const std::string& path) : name_(display_name(path)) {
    if (path == "-") {
        f_ = stdin;
        return;
    }
    f_ = std::fopen(path.c_str(), "rb");
    if (!f_) throw error_at(name_, "cannot open: " + errno_text());
}

InputFile::~InputFile() {
    if (f_ && f_ != stdin) std::fclose(f_);
}

namespace {
struct ProtectedInput {
    dev_t dev;
    ino_t ino;
    std::string name;
};
std::vector<ProtectedInput> g_protected;
}  // namespace

void protect_inputs(const std::vector<std::string>& inputs) {
    for (const auto& in : inputs) {
        struct stat st;
        if (in.empty() || in == "-" || ::stat(in.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        g_protected.push_back({st.st_dev, st.st_ino, in});
    }
}

static void refuse_protected(const std::string& output, const std::string& name) {
    struct stat out;
    if (g_protected.empty() || ::stat(output.c_str(), &out) != 0 || !S_ISREG(out.st_mode)) return;
    for (const auto& in : g_protected)
        if (in.dev == out.st_dev && in.ino == out.st_ino)
            throw error_at(name, "is the input " + in.name + "; refusing to overwrite an input");
}

// ---- temp outputs removed when a signal ends the process ----
//
// Live temp paths sit in fixed slots that an async-signal-safe handler can read: it unlinks them, restores
// the default action and raises the signal again, so the process still ends as the signal says.

namespace {

struct TempSlot {
    std::atomic<int> state{0};  // 0 free, 1 being filled or cleared, 2 live
    char path[4096];
};
TempSlot g_temp_slots[64];
std::once_flag g_handlers_once;
// Set by the handler before it reads the slots. A thread that registers a temp file while another thread runs the
// handler sees it (both are sequentially consistent: either the handler sees the slot live, or the registering
// thread sees g_dying) and removes its own file (AtomicOutput's constructor).
std::atomic<bool> g_dying{false};

extern "C" void remove_temps_and_reraise(int sig) {
    g_dying.store(true);
    for (auto& slot : g_temp_slots)
        if (slot.state.load() == 2) ::unlink(slot.path);
    ::signal(sig, SIG_DFL);
    ::raise(sig);
}

void install_signal_handlers() {
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
        struct sigaction old {};
        if (::sigaction(sig, nullptr, &old) != 0) continue;
        // Leave alone what someone else handles or ignores (nohup, scvae-train's own SIGINT/SIGTERM handler).
        if (old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO)) continue;
        struct sigaction sa {};
        sa.sa_handler = remove_temps_and_reraise;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND;
        ::sigaction(sig, &sa, nullptr);
    }
}

int register_temp(const std::string& path) {
    std::call_once(g_handlers_once, install_signal_handlers);
    if (path.size() >= sizeof g_temp_slots[0].path) return -1;
    for (int i = 0; i < int(std::size(g_temp_slots)); ++i) {
        int expected = 0;
        if (!g_temp_slots[i].state.compare_exchange_strong(expected, 1)) continue;
        std::memcpy(g_temp_slots[i].path, path.c_str(), path.size() + 1);
        g_temp_slots[i].state.store(2);
        return i;
    }
    return -1;
}

void unregister_temp(int slot) {
    if (slot >= 0) g_temp_slots[slot].state.store(0);
}

// The file a path finally names: symbolic links followed (also a dangling one, whose target is then created).
std::string resolve_links(const std::string& path) {
    std::string p = path;
    for (int hop = 0; hop < 40; ++hop) {
        struct stat st;
        if (::lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return p;
        std::vector<char> buf(size_t(st.st_size > 0 ? st.st_size : 255) + 2);
        ssize_t n = ::readlink(p.c_str(), buf.data(), buf.size() - 1);
        if (n < 0) return p;
        std::string target(buf.data(), size_t(n));
        if (target.empty() || target[0] != '/') {
            size_t slash = p.find_last_of('/');
            if (slash != std::string::npos) target = p.substr(0, slash + 1) + target;
        }
        p = target;
    }
    errno = ELOOP;
    throw error_at(display_name(path, true), "cannot create: " + errno_text());
}

}  // namespace

AtomicOutput::AtomicOutput(const std::string& path) : path_(path), name_(display_name(path, true)) {
    if (path == "-") {
        f_ = stdout;
        is_stdout_ = true;
        return;
    }
    refuse_protected(path, name_);
    // A device, FIFO or socket (or a link to one) is written straight through: there is nothing to replace.
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) {
            errno = EISDIR;
            throw error_at(name_, "cannot create: " + errno_text());
        }
        f_ = std::fopen(path.c_str(), "wb");
        if (!f_) throw error_at(name_, "cannot open: " + errno_text());
        direct_ = true;
        return;
    }
    // A symbolic link keeps being a link: the file it points to is replaced.
    path_ = resolve_links(path);
    make_parent_folders(path_);
    std::string tmpl = path_ + ".tmp.XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    // Between mkstemp and register_temp a signal would leave the file behind: this thread blocks the ending
    // signals over that span, and a handler already running in another thread is caught by g_dying.
    std::call_once(g_handlers_once, install_signal_handlers);
    sigset_t ending, before;
    sigemptyset(&ending);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&ending, sig);
    pthread_sigmask(SIG_BLOCK, &ending, &before);
    int fd = mkstemp(buf.data());
    if (fd < 0) {
        const std::string why = errno_text();
        pthread_sigmask(SIG_SETMASK, &before, nullptr);
        throw error_at(name_, "cannot create: " + why);
    }
    tmp_ = buf.data();
    slot_ = register_temp(tmp_);
    if (g_dying.load()) ::unlink(tmp_.c_str());  // the process is ending by a signal: write into nothing
    pthread_sigmask(SIG_SETMASK, &before, nullptr);
    // mkstemp creates 0600; make it like an ordinary new file (respecting the umask).
    mode_t um = umask(0);
    umask(um);
    fchmod(fd, 0666 & ~um);
    f_ = fdopen(fd, "wb");
    if (!f_) {
        int e = errno;
        ::close(fd);
        ::unlink(tmp_.c_str());
        unregister_temp(slot_);
        errno = e;
        throw error_at(name_, "cannot create: " + errno_text());
    }
}

AtomicOutput::~AtomicOutput() {
    if (is_stdout_ || committed_) return;
    if (f_) std::fclose(f_);
    if (!tmp_.empty()) ::unlink(tmp_.c_str());
    unregister_temp(slot_);
}

void AtomicOutput::write(const void* data, size_t size) {
    if (size == 0) return;
    if (std::fwrite(data, 1, size, f_) != size) throw error_at(name_, "write error: " + errno_text());
}

void AtomicOutput::commit() {
    if (committed_) return;
    if (is_stdout_) {
        if (std::fflush(stdout) != 0 || std::ferror(stdout)) throw error_at(name_, "write error: " + errno_text());
        committed_ = true;
        return;
    }
    if (direct_) {
        bool bad = std::fflush(f_) != 0 || std::ferror(f_);
        int e = errno;
        if (std::fclose(f_) != 0 && !bad) {
            bad = true;
            e = errno;
        }
        f_ = nullptr;
        committed_ = true;
        errno = e;
        if (bad) throw error_at(name_, "write error: " + errno_text());
        return;
    }
    bool bad = std::fflush(f_) != 0 || std::ferror(f_);
    int e = errno;
    if (std::fclose(f_) != 0) {
        bad = true;
        e = errno;
    }
    f_ = nullptr;
    if (bad) {
        ::unlink(tmp_.c_str());
        unregister_temp(slot_);
        errno = e;
        throw error_at(name_, "write error: " + errno_text());
    }
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
        e = errno;
        ::unlink(tmp_.c_str());
        unregister_temp(slot_);
        errno = e;
        throw error_at(name_, "cannot rename into place: " + errno_text());
    }
    unregister_temp(slot_);
    committed_ = true;
}

void write_file_atomic(const std::string& path, const void* data, size_t size) {
    AtomicOutput out(path);
    out.write(data, size);
    out.commit();
}

std::string input_names(const std::vector<std::string>& inputs) {
    std::string s;
    for (const auto& in : inputs) s += (s.empty() ? "" : ", ") + display_name(in);
    return s.empty() ? display_name("-") : s;
}

bool is_terminal(int fd) { return ::isatty(fd) == 1; }


void finish_stdout() {
    if (std::fflush(stdout) != 0 || std::ferror(stdout))
        throw Error("<stdout>: write error: " + errno_text());
}

int available_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<int>(n) : 1;
}

std::string path_name(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string path_stem(const std::string& path) {
    std::string b = path_name(path);
    const size_t dot = b.find_last_of('.');
    if (dot != std::string::npos && dot > 0) b.resize(dot);
    return b;
}

bool is_regular_file(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// {stem} of a record's source; standard input is "stdin".
static std::string stem_of(const std::string& path) {
    const std::string b = path_name(path);
    return b.empty() || b == "-" ? "stdin" : path_stem(b);
}

bool pattern_has_placeholder(const std::string& p) {
    if (p.find("{stem}") != std::string::npos || p.find("{name}") != std::string::npos ||
        p.find("{index") != std::string::npos || p.find("{n}") != std::string::npos)
        return true;
    for (size_t i = 0; i + 1 < p.size(); ++i) {
        if (p[i] != '%') continue;
        size_t j = i + 1;
        if (p[j] == '%') {
            ++i;
            continue;
        }
        while (j < p.size() && (std::isdigit(static_cast<unsigned char>(p[j])) || p[j] == '0')) ++j;
        if (j < p.size() && p[j] == 'd') return true;
    }
    return false;
}

std::string expand_pattern(const std::string& pattern, const std::string& source, size_t index) {
    std::string out;
    for (size_t i = 0; i < pattern.size();) {
        char c = pattern[i];
        if (c == '{') {
            size_t close = pattern.find('}', i);
            if (close != std::string::npos) {
                std::string key = pattern.substr(i + 1, close - i - 1);
                if (key == "stem") {
                    out += stem_of(source);
                    i = close + 1;
                    continue;
                }
                if (key == "name") {
                    std::string b = path_name(source);
                    out += (b.empty() || b == "-") ? "stdin" : b;
                    i = close + 1;
                    continue;
                }
                if (key == "n") {
                    out += std::to_string(index + 1);
                    i = close + 1;
                    continue;
                }
                if (key == "index" || key.rfind("index:", 0) == 0) {
                    int width = 0;
                    if (key.size() > 6) width = std::atoi(key.c_str() + 6);
                    std::string num = std::to_string(index);
                    if (static_cast<int>(num.size()) < width) num.insert(0, width - num.size(), '0');
                    out += num;
                    i = close + 1;
                    continue;
                }
            }
        } else if (c == '%' && i + 1 < pattern.size()) {
            if (pattern[i + 1] == '%') {
                out += '%';
                i += 2;
                continue;
            }
            size_t j = i + 1;
            while (j < pattern.size() && std::isdigit(static_cast<unsigned char>(pattern[j]))) ++j;
            if (j < pattern.size() && pattern[j] == 'd') {
                std::string spec = pattern.substr(i, j - i + 1);
                char buf[64];
                std::snprintf(buf, sizeof buf, spec.c_str(), static_cast<int>(index));
                out += buf;
                i = j + 1;
                continue;
            }
        }
        out += c;
        ++i;
    }
    return out;
}

std::vector<std::string> read_list_file(const std::string& path) {
    auto bytes = read_file(path);
    std::vector<std::string> out;
    std::string line;
    std::istringstream ss(std::string(bytes.begin(), bytes.end()));
    while (std::getline(ss, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || line[0] == '#') continue;
        out.push_back(line);
    }
    return out;
}


}  // namespace scvae
