// scvae/error.h - the failures the library reports.
//
//   scvae::Error            data or runtime error (bad file, corrupt stream, I/O)   -> a tool exits 1
//   scvae::InvalidArgument  a caller's argument is out of its domain (an unknown     -> a tool exits 2
//                           preset, a JPEG quality of 0, an image name with no known
//                           extension). Not an Error: a loop that skips bad data
//                           (catch Error) still stops on a bad argument.
//
// The tools add UsageError (tools/common/cli.h), an InvalidArgument, for their command lines.
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

struct InvalidArgument : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

// "name: reason", the common shape of a data error.
inline Error error_at(const std::string& name, const std::string& reason) {
    return Error(name + ": " + reason);
}

}  // namespace scvae
