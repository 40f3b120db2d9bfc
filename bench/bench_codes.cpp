// bench_codes - throughput of the code stream writer and reader (binary f32/f16 and JSON Lines).
//
//   bench_codes [RECORDS] [GRID] [NNZ_PER_POSITION]     (defaults 2000 32 24; K = 512)
//
// Writes RECORDS records of a GRID x GRID grid to a temporary file, reads them back, and prints MB/s and
// records/s for each encoding. The stream lives in the page cache, so this measures the format code, not a disk.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "scvae/codes.h"

using namespace scvae;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
    const int records = argc > 1 ? std::atoi(argv[1]) : 2000;
    const uint32_t grid = argc > 2 ? uint32_t(std::atoi(argv[2])) : 32;
    const uint32_t per = argc > 3 ? uint32_t(std::atoi(argv[3])) : 24;
    const uint32_t K = 512;

    CodeRecord rec;
    rec.fingerprint = "0123456789abcdef";
    rec.n = 256;
    rec.K = K;
    rec.d = 3;
    rec.source = "bench.png";
    rec.image_width = rec.image_height = grid * 8;
    rec.grid_h = rec.grid_w = grid;
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> val(-2.0f, 2.0f);
    rec.row_ptr.assign(1, 0);
    for (uint32_t p = 0; p < grid * grid; ++p) {
        for (uint32_t j = 0; j < per; ++j) {
            rec.indices.push_back(uint16_t(j * (K / per) + rng() % (K / per)));
            rec.values.push_back(val(rng));
        }
        rec.row_ptr.push_back(uint32_t(rec.indices.size()));
    }

    std::printf("%d records, grid %ux%u, K=%u, %u nonzeros per position (%zu per record)\n", records, grid, grid, K,
                per, rec.nnz());
    struct Case {
        const char* name;
        CodeWriterOptions opt;
    } cases[] = {{"binary f32", {CodesEncoding::Binary, false}},
                 {"binary f16", {CodesEncoding::Binary, true}},
                 {"json f32", {CodesEncoding::Json, false}}};
    for (const Case& c : cases) {
        FILE* f = std::tmpfile();
        const int n = c.opt.encoding == CodesEncoding::Json ? std::max(1, records / 10) : records;
        const std::clock_t c0 = std::clock();
        auto t0 = Clock::now();
        CodeWriter w(f, "bench", c.opt);
        for (int i = 0; i < n; ++i) w.write(rec);
        std::fflush(f);
        auto t1 = Clock::now();
        const std::clock_t c1 = std::clock();
        std::rewind(f);
        CodeReader r(f, "bench");
        CodeRecord got;
        size_t count = 0;
        while (r.next(got)) ++count;
        auto t2 = Clock::now();
        const std::clock_t c2 = std::clock();
        std::fclose(f);
        const double mb = double(w.bytes_written()) / 1e6;
        const double tw = std::chrono::duration<double>(t1 - t0).count();
        const double tr = std::chrono::duration<double>(t2 - t1).count();
        // CPU seconds too: on a busy machine the wall clock mostly measures waiting for a core.
        const double cw = double(c1 - c0) / CLOCKS_PER_SEC, cr = double(c2 - c1) / CLOCKS_PER_SEC;
        std::printf("%-11s %5d rec %7.1f MB | write %7.1f MB/s %7.0f rec/s (cpu %7.1f MB/s) | read %7.1f MB/s %7.0f "
                    "rec/s (cpu %7.1f MB/s)\n",
                    c.name, n, mb, mb / tw, n / tw, mb / cw, mb / tr, count / tr, mb / cr);
        if (count != size_t(n)) return 1;
    }
    return 0;
}
