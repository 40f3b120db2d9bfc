// pnm.h - netpbm images (PBM, PGM, PPM, PAM) in their raw forms: reading, writing, and finding where one image
// of a stream ends. Internal to the library; the public face is scvae/image.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "scvae/image.h"

namespace scvae {

// True when the bytes start with a netpbm magic number "P1".."P7".
bool is_pnm_magic(const uint8_t* data, size_t size);

// Decodes one raw netpbm image (P4, P5, P6 or P7) at the start of `data`; bytes after it are ignored.
// Samples are divided by maxval; maxval > 255 gives bit_depth 16. Errors: Error("<name>: <reason>").
Image decode_pnm(const uint8_t* data, size_t size, const std::string& name, const ImageLimits& limits);

// Encodes P5 (1 or 2 channels) or P6 (3 or 4 channels), alpha dropped; with `pam`, P7 with the channels as
// they are (GRAYSCALE, GRAYSCALE_ALPHA, RGB, RGB_ALPHA). maxval 255, or 65535 when bit_depth is 16.
std::vector<uint8_t> encode_pnm(const Image& img, bool pam, int bit_depth);

// The netpbm header of a raw image, as far as the framing of a stream needs it.
struct PnmHeader {
    int kind = 0;           // 4, 5, 6 or 7
    uint64_t width = 0, height = 0;
    uint64_t depth = 0;     // samples per pixel
    uint64_t maxval = 0;
    std::string tupltype;   // P7 only
    size_t header_bytes = 0;  // bytes up to the raster
    uint64_t raster_bytes() const;
};

// Parses the header at the start of `data`. Returns 1 when complete (h filled), 0 when more bytes are needed,
// and -1 with `reason` set when the bytes are not a valid raw netpbm header.
int parse_pnm_header(const uint8_t* data, size_t size, PnmHeader& h, std::string& reason);

}  // namespace scvae
