// scvae/io.h - files, pipes and atomic output.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstddef>
#include <string>
#include <vector>

namespace scvae {

// The program name that prefixes messages ("scvae-encode"; "scvae" until set), and a message on stderr:
// "<program>: <message>" (stdout is flushed first, so that the two keep their order on a terminal).
void set_program_name(const std::string& name);
const std::string& program_name();
void warn(const std::string& message);

// Progress of a long run on stderr. On a terminal a live line is rewritten in place ("<program>: 12/40 images",
// or any text through show()); message() prints a line of its own. Nothing at all when quiet.
class Progress {
public:
    // `what` and `total` are for count(): "12/40 images" (a plain "12 images" when total is 0 or exceeded).
    explicit Progress(bool quiet, std::string what = "", size_t total = 0);
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;
    // Whether a live line shows: not quiet, and stderr is a terminal.
    bool live() const { return live_; }
    void count(size_t done);
    // Rewrites the live line as "<program>: <text>", at most five times a second unless `force`.
    void show(const std::string& text, bool force = false);
    // "<program>: <text>" on a line of its own (ending the live line first).
    void message(const std::string& text);
    // Ends the live line (a newline after it), if one is showing.
    void end_line();

private:
    bool quiet_, live_, shown_ = false;
    std::string what_;
    size_t total_;
    double last_ = -1;  // seconds (steady clock) of the last show()
};

// scvae's version, "0.1.0" (project(VERSION) in CMakeLists.txt).
std::string version_string();

// Name shown in messages for a path: "-" becomes "<stdin>" or "<stdout>".
std::string display_name(const std::string& path, bool output = false);

// Reads a whole file ("-" = stdin) into memory. Throws Error("<name>: <strerror>").
std::vector<uint8_t> read_file(const std::string& path);

// An input stream: a file or stdin ("-"). Owns the FILE* unless it is stdin.
class InputFile {
public:
    explicit InputFile(const std::string& path);
    ~InputFile();
    InputFile(const InputFile&) = delete;
    InputFile& operator=(const InputFile&) = delete;
    FILE* get() const { return f_; }
    const std::string& name() const { return name_; }

private:
    FILE* f_ = nullptr;
    std::string name_;
};

// An output that appears only when complete: writes go to "<path>.tmp.XXXXXX" in the same folder and
// commit() renames it over `path`. If commit() is never called (an error, an exception) the temporary file
// is removed and `path` is untouched; SIGINT, SIGTERM and SIGHUP (where their action is the default) remove
// live temporary files before the process ends. "-" writes straight to stdout (commit() flushes and checks
// ferror). A `path` that names a device, FIFO or socket is written straight through (not replaced); a
// symbolic link is followed and the file it points to is replaced, so the link stays a link.
class AtomicOutput {
public:
    explicit AtomicOutput(const std::string& path);
    ~AtomicOutput();
    AtomicOutput(const AtomicOutput&) = delete;
    AtomicOutput& operator=(const AtomicOutput&) = delete;
    FILE* get() const { return f_; }
    const std::string& name() const { return name_; }
    bool is_stdout() const { return is_stdout_; }
    void write(const void* data, size_t size);
    void commit();

private:
    FILE* f_ = nullptr;
    std::string path_, tmp_, name_;
    bool is_stdout_ = false;
    bool direct_ = false;  // a device, FIFO or socket: written straight through, nothing renamed
    bool committed_ = false;
    int slot_ = -1;        // this temp file's slot in the list a fatal signal's handler removes
};

// Atomically writes `data` to `path` ("-" = stdout).
void write_file_atomic(const std::string& path, const void* data, size_t size);

// Remembers the existing regular files among `inputs` (by device and inode): an AtomicOutput that would
// replace one of them throws Error("<output>: is the input <input>; refusing to overwrite an input").
void protect_inputs(const std::vector<std::string>& inputs);

// The display names of inputs joined by ", " ("<stdin>" for none), for messages about them all.
std::string input_names(const std::vector<std::string>& inputs);

// True when fd refers to a terminal.
bool is_terminal(int fd);

// Flushes and closes stdout, turning a write error (full disk, closed pipe) into an Error.
void finish_stdout();

// Number of CPUs this process may run on (sched_getaffinity), at least 1.
int available_cpus();

// Expands a "-o PATTERN": {stem} source file name without folder and extension, {name} with extension,
// {index} record index (0-based), {index:N} zero-padded to N digits, {n} 1-based index. "%d"-style printf
// patterns are also accepted for the index. A pattern with no placeholder names one file.
std::string expand_pattern(const std::string& pattern, const std::string& source, size_t index);
bool pattern_has_placeholder(const std::string& pattern);

// The last component of a path ("a/b.png" -> "b.png").
std::string path_name(const std::string& path);
// path_name without its last extension ("a/b.tar.gz" -> "b.tar"; a leading dot is not an extension: ".x" -> ".x").
std::string path_stem(const std::string& path);
// Whether `path` names a regular file (links followed).
bool is_regular_file(const std::string& path);

// Reads a list of paths, one per line (blank lines and lines starting with '#' skipped); "-" = stdin.
std::vector<std::string> read_list_file(const std::string& path);


}  // namespace scvae
