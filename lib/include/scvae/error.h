// scvae/error.h - the two kinds of failure every scvae tool maps to an exit code.
//
//   scvae::Error       data or runtime error (bad file, corrupt stream, I/O)  -> exit 1
//   scvae::UsageError  wrong command line (unknown option, bad value)          -> exit 2
//
// The message carries the context ("photo.jpg: not a PNG, JPEG or netpbm file",
// "codes.scv: record 3: checksum mismatch"); the tool prefixes its own name.
// Bugs are asserts, never these exceptions.
#pragma once

#include <stdexcept>
#include <string>

namespace scvae {

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// "name: reason", the common shape of a data error.
inline Error error_at(const std::string& name, const std::string& reason) {
    return Error(name + ": " + reason);
}

}  // namespace scvae
