// Codec against golden outputs of the checked-in tiny model: the codes and the decoded image of a photo, as the
// LibTorch Codec (model/codec.cpp) made them when they were written. This program is built with whichever Codec
// its build links: the LibTorch one in the main build, the torch-free one (model/codec_light.cpp, the inference
// engine of lib/src/infer/) in the sanitizer build (scripts/sanitize.sh), so both are held to the same files; the
// light scvae-encode and scvae-decode are held to them by tests/cli/encode_decode.bats.
//
// Written by (only after a deliberate change of the tiny model or of what the networks compute):
//   scvae-encode -m tests/data/tiny.scvm --json -o tests/data/golden/tiny-photo1.jsonl tests/data/images/photo1.jpg
//   scvae-decode -m tests/data/tiny.scvm -o tests/data/golden/tiny-photo1.png tests/data/golden/tiny-photo1.jsonl
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "scvae/codes.h"
#include "scvae/error.h"
#include "scvae/image.h"
#include "scvae/model.h"

using namespace scvae;

namespace {

std::string data(const std::string& p) { return std::string(SCVAE_TEST_DATA) + "/" + p; }

CodeRecord golden_record() {
    FILE* f = std::fopen(data("golden/tiny-photo1.jsonl").c_str(), "rb");
    EXPECT_NE(f, nullptr);
    CodeReader reader(f, "tiny-photo1.jsonl");
    CodeRecord r;
    EXPECT_TRUE(reader.next(r));
    std::fclose(f);
    return r;
}

double max_code_difference(const CodeRecord& a, const CodeRecord& b) {
    double worst = 0;
    for (size_t p = 0; p < a.positions(); ++p) {
        const auto da = a.dense(p), db = b.dense(p);
        for (size_t k = 0; k < da.size(); ++k) worst = std::max(worst, double(std::fabs(da[k] - db[k])));
    }
    return worst;
}

}  // namespace

TEST(Codec, EncodesAsTheGoldenCodes) {
    Codec codec = Codec::load(data("tiny.scvm"));
    const CodeRecord want = golden_record();
    EXPECT_EQ(codec.fingerprint(), want.fingerprint);
    const Image img = read_image(data("images/photo1.jpg"));
    const CodeRecord got = codec.encode({img}, {"photo1.jpg"}).front();
    ASSERT_EQ(got.grid_h, want.grid_h);
    ASSERT_EQ(got.grid_w, want.grid_w);
    EXPECT_EQ(got.fingerprint, want.fingerprint);
    EXPECT_GT(want.values.size(), 100u);
    float scale = 0;
    for (float v : want.values) scale = std::max(scale, std::fabs(v));
    EXPECT_LT(max_code_difference(got, want), 1e-4 * scale);
    // the same image twice in one batch, and an odd size (padding): each record as on its own
    Image odd = img;
    odd.width = 50, odd.height = 37;
    odd.data.resize(size_t(50) * 37 * 3);
    for (int y = 0; y < 37; ++y)
        for (int x = 0; x < 50; ++x)
            for (int c = 0; c < 3; ++c) odd.at(y, x, c) = img.at(y, x, c);
    const auto recs = codec.encode({img, odd, img}, {"a", "b", "c"});
    // as on its own up to the last bits (LibTorch's kernels block a batch of 3 differently from one image)
    EXPECT_LT(max_code_difference(recs[0], got), 1e-6 * scale);
    EXPECT_LT(max_code_difference(recs[2], got), 1e-6 * scale);
    EXPECT_EQ(recs[1].image_width, 50u);
    EXPECT_EQ(recs[1].pad_right, 2u);
    EXPECT_EQ(recs[1].pad_bottom, 3u);
    EXPECT_LT(max_code_difference(recs[1], codec.encode({odd}, {"b"}).front()), 1e-6 * scale);
}

TEST(Codec, DecodesAsTheGoldenImage) {
    Codec codec = Codec::load(data("tiny.scvm"));
    const CodeRecord rec = golden_record();
    const Image want = read_image(data("golden/tiny-photo1.png"));
    const Image got = codec.decode(rec);
    ASSERT_EQ(got.width, want.width);
    ASSERT_EQ(got.height, want.height);
    ASSERT_EQ(got.channels, 3);
    // as 8-bit values (what the golden PNG holds): equal, or one step apart where a value lies near a rounding edge
    long worst = 0, differ = 0;
    for (size_t i = 0; i < got.data.size(); ++i) {
        const long d = std::labs(std::lround(got.data[i] * 255.0) - std::lround(want.data[i] * 255.0));
        worst = std::max(worst, d);
        differ += d != 0;
    }
    EXPECT_LE(worst, 1);
    EXPECT_LT(double(differ) / double(got.data.size()), 0.01);
    // a batch of records decodes as each alone, up to the last bits (kernels block a batch differently)
    const auto both = codec.decode(std::vector<CodeRecord>{rec, rec});
    ASSERT_EQ(both.size(), 2u);
    for (const Image& b : both) {
        ASSERT_EQ(b.data.size(), got.data.size());
        float apart = 0;
        for (size_t i = 0; i < got.data.size(); ++i) apart = std::max(apart, std::fabs(b.data[i] - got.data[i]));
        EXPECT_LT(apart, 1e-5f);
    }
}

TEST(Codec, RefusesRecordsOfAnotherModel) {
    Codec codec = Codec::load(data("tiny.scvm"));
    CodeRecord rec = golden_record();
    rec.K = 64;
    try {
        codec.decode(rec);
        FAIL() << "decoded a record with K=64";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("record was made by a model with n=16, K=64"), std::string::npos)
            << e.what();
    }
}

TEST(Codec, IstaAndFistaStayNearTheirObjective) {
    // the classic solvers over the fixed dictionary: FISTA converges faster than ISTA on the same codes
    Codec codec = Codec::load(data("tiny.scvm"));
    const Image img = read_image(data("images/photo1.jpg"));
    codec.set_solver("ista", 200);
    const CodeRecord ista = codec.encode({img}, {"x"}).front();
    codec.set_solver("fista", 200);
    const CodeRecord fista = codec.encode({img}, {"x"}).front();
    EXPECT_GT(ista.values.size(), 0u);
    float scale = 0;
    for (float v : fista.values) scale = std::max(scale, std::fabs(v));
    EXPECT_LT(max_code_difference(ista, fista), 0.05 * scale) << "200 iterations of both reach the same minimiser";
    codec.set_solver("lista", 0);
    EXPECT_LT(max_code_difference(codec.encode({img}, {"x"}).front(), golden_record()), 1e-4);
    EXPECT_THROW(codec.set_solver("newton", 3), Error);
}
