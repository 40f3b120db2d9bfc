// io.cpp - files, pipes and atomic output.
#include "scvae/io.h"

#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "scvae/error.h"

namespace scvae {

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

AtomicOutput::AtomicOutput(const std::string& path) : path_(path), name_(display_name(path, true)) {
    if (path == "-") {
        f_ = stdout;
        is_stdout_ = true;
        return;
    }
    make_parent_folders(path);
    std::string tmpl = path + ".tmp.XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    int fd = mkstemp(buf.data());
    if (fd < 0) throw error_at(name_, "cannot create: " + errno_text());
    tmp_ = buf.data();
    // mkstemp creates 0600; make it like an ordinary new file (respecting the umask).
    mode_t um = umask(0);
    umask(um);
    fchmod(fd, 0666 & ~um);
    f_ = fdopen(fd, "wb");
    if (!f_) {
        int e = errno;
        ::close(fd);
        ::unlink(tmp_.c_str());
        errno = e;
        throw error_at(name_, "cannot create: " + errno_text());
    }
}

AtomicOutput::~AtomicOutput() {
    if (is_stdout_ || committed_) return;
    if (f_) std::fclose(f_);
    if (!tmp_.empty()) ::unlink(tmp_.c_str());
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
    bool bad = std::fflush(f_) != 0 || std::ferror(f_);
    int e = errno;
    if (std::fclose(f_) != 0) {
        bad = true;
        e = errno;
    }
    f_ = nullptr;
    if (bad) {
        ::unlink(tmp_.c_str());
        errno = e;
        throw error_at(name_, "write error: " + errno_text());
    }
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
        e = errno;
        ::unlink(tmp_.c_str());
        errno = e;
        throw error_at(name_, "cannot rename into place: " + errno_text());
    }
    committed_ = true;
}

void write_file_atomic(const std::string& path, const void* data, size_t size) {
    AtomicOutput out(path);
    out.write(data, size);
    out.commit();
}

bool is_terminal(int fd) { return ::isatty(fd) == 1; }

void refuse_binary_to_terminal(const std::string& out_path) {
    refuse_binary_to_terminal(out_path, "binary codes", "use --json, -o FILE or a pipe");
}

void refuse_binary_to_terminal(const std::string& out_path, const std::string& what, const std::string& hint) {
    if (out_path == "-" && is_terminal(STDOUT_FILENO))
        throw UsageError("refusing to write " + what + " to a terminal; " + hint);
}

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

static std::string base_name(const std::string& path) {
    size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

static std::string stem_of(const std::string& path) {
    std::string b = base_name(path);
    if (b.empty() || b == "-") return "stdin";
    size_t dot = b.find_last_of('.');
    if (dot == std::string::npos || dot == 0) return b;
    return b.substr(0, dot);
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
                    std::string b = base_name(source);
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
