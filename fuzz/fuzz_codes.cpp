// fuzz_codes.cpp - libFuzzer target for the code stream reader (scvae-codes(5)): the binary SCVC records
// (fuzz_codes_binary) or JSON Lines (fuzz_codes_json, built with SCVAE_FUZZ_JSON=1), read record by record as
// every tool reads them. A record the reader accepts must be valid (validate(), values within kMaxCodeValue)
// and must survive a write/read round trip unchanged; every failure must be a scvae::Error.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "scvae/codes.h"
#include "scvae/error.h"

#ifndef SCVAE_FUZZ_JSON
#define SCVAE_FUZZ_JSON 0
#endif

namespace {

[[noreturn]] void bug(const char* what) {
    std::fprintf(stderr, "fuzz_codes: %s\n", what);
    std::abort();
}

bool ascii(const std::string& s) {
    for (unsigned char c : s)
        if (c >= 0x80) return false;
    return true;
}

// Equal records; the JSON encoding writes a source name that is not valid UTF-8 with U+FFFD for each bad byte
// (scvae-codes(5)), so there the name is compared only when it is ASCII.
bool same(const scvae::CodeRecord& a, const scvae::CodeRecord& b, bool json) {
    const bool source_ok = a.source == b.source || (json && !ascii(a.source));
    return a.fingerprint == b.fingerprint && a.n == b.n && a.K == b.K && a.d == b.d && source_ok &&
           a.image_width == b.image_width && a.image_height == b.image_height &&
           a.image_channels == b.image_channels && a.pad_right == b.pad_right && a.pad_bottom == b.pad_bottom &&
           a.grid_h == b.grid_h && a.grid_w == b.grid_w && a.row_ptr == b.row_ptr && a.indices == b.indices &&
           a.values == b.values;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    // Keep each target on its own path: the reader picks JSON when the first byte is '{'.
    if (SCVAE_FUZZ_JSON != (data[0] == '{')) return -1;  // -1: not added to the corpus
    FILE* f = fmemopen(const_cast<uint8_t*>(data), size, "rb");
    if (!f) return 0;
    scvae::CodeReader reader(f, "fuzz");
    scvae::CodeRecord rec;
    try {
        for (int i = 0; i < 64 && reader.next(rec); ++i) {
            try {
                rec.validate();
            } catch (const scvae::Error&) {
                bug("the reader returned a record validate() refuses");
            }
            for (float v : rec.values)
                if (!std::isfinite(v) || std::fabs(v) > scvae::kMaxCodeValue) bug("a value out of range passed");
            // round trip through both encodings
            for (auto enc : {scvae::CodesEncoding::Binary, scvae::CodesEncoding::Json}) {
                scvae::CodeWriterOptions opt;
                opt.encoding = enc;
                opt.half = rec.half;
                std::vector<uint8_t> bytes = scvae::serialize_record(rec, opt);
                FILE* g = fmemopen(bytes.data(), bytes.size(), "rb");
                if (!g) continue;
                scvae::CodeReader again(g, "round trip");
                scvae::CodeRecord back;
                bool ok = false;
                try {
                    ok = again.next(back);
                } catch (const scvae::Error&) {
                    std::fclose(g);
                    bug("a record the reader accepted does not read back after writing");
                }
                std::fclose(g);
                if (!ok || !same(rec, back, enc == scvae::CodesEncoding::Json)) bug("a record changed in a write/read round trip");
            }
        }
    } catch (const scvae::Error&) {
        // a refused stream: the documented outcome
    }
    std::fclose(f);
    return 0;
}
