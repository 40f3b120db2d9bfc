// export.cpp - scvae-model export: the model as a TorchScript module, made by PyTorch in Python.
//
// LibTorch's C++ API cannot script a C++ module, so the export is done where TorchScript lives: the model file is
// checked here (Codec::load: checksum, fingerprint, shapes), then python/scvae_torch.py rebuilds the same network
// in PyTorch, loads the file's weights by name and torch.jit.script()s it. No LibTorch header here.
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "scvae/error.h"
#include "scvae/io.h"
#include "scvae/model.h"
#include "scvae-model/model_tool.h"

#include "cli.h"

extern char** environ;

namespace scvae {

namespace {

bool is_file(const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// scvae_torch.py: in $SCVAE_PYTHON_DIR when set, else the source tree's python/, else
// <prefix>/share/scvae/python.
std::string find_export_script() {
    std::vector<std::string> dirs;
    if (const char* e = std::getenv("SCVAE_PYTHON_DIR"); e && *e) {
        dirs.push_back(e);
    } else {
#ifdef SCVAE_SOURCE_PYTHON_DIR
        dirs.push_back(SCVAE_SOURCE_PYTHON_DIR);
#endif
#ifdef SCVAE_INSTALL_PYTHON_DIR
        dirs.push_back(SCVAE_INSTALL_PYTHON_DIR);
#endif
    }
    std::string looked;
    for (const auto& d : dirs) {
        const std::string p = d + "/scvae_torch.py";
        if (is_file(p)) return p;
        looked += (looked.empty() ? "" : ", ") + d;
    }
    throw Error("cannot find scvae_torch.py (looked in " + looked + "); set SCVAE_PYTHON_DIR to its folder");
}

}  // namespace

int model_export_main(const ModelExportOptions& opt) {
    if (opt.output.empty()) throw UsageError("export: -o FILE is required");
    refuse_binary_to_terminal(opt.output, "a TorchScript file", "use -o FILE or a pipe");
    const std::string model = opt.model.value_or(default_model_path());
    Codec::load(model);  // every check of scvae-model(5), with the tools' messages
    const std::string script = find_export_script();
    const char* py_env = std::getenv("SCVAE_PYTHON");
    const std::string python = py_env && *py_env ? py_env : "python3";

    std::vector<std::string> args = {python, script, "export", model, "-o", opt.output};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_store;
    for (char** e = environ; *e; ++e)
        if (std::strncmp(*e, "SCVAE_PROG=", 11) != 0) env_store.emplace_back(*e);
    env_store.emplace_back("SCVAE_PROG=scvae-model");
    std::vector<char*> envp;
    for (auto& e : env_store) envp.push_back(e.data());
    envp.push_back(nullptr);

    pid_t pid;
    int rc = posix_spawnp(&pid, python.c_str(), nullptr, nullptr, argv.data(), envp.data());
    if (rc != 0)
        throw Error("cannot run " + python + ": " + std::strerror(rc) +
                    " (export needs Python with PyTorch; set SCVAE_PYTHON)");
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) throw Error(std::string("waitpid: ") + std::strerror(errno));
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status) == 0 ? 0 : (WEXITSTATUS(status) == 2 ? 2 : 1);
    throw Error(python + " " + script + " ended by signal " + std::to_string(WTERMSIG(status)));
}

}  // namespace scvae
