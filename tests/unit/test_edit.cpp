// Unit tests of scvae/edit.h: edits, traversals, interpolation, source tags and option parsing.
#include <gtest/gtest.h>

#include "scvae-edit/edit_tool.h"
#include "scvae/error.h"

using namespace scvae;

namespace {

// A 2x2 grid, K = 6: position 0 {1: 2.0, 4: -1.0}, position 1 {}, position 2 {0: 0.5}, position 3 {5: 3.0}.
CodeRecord sample(const std::string& source = "dir/a.png") {
    CodeRecord r;
    r.fingerprint = "00112233aabbccdd";
    r.n = 4;
    r.K = 6;
    r.d = 1;
    r.source = source;
    r.image_width = 4;
    r.image_height = 4;
    r.grid_h = 2;
    r.grid_w = 2;
    r.row_ptr = {0, 2, 2, 3, 4};
    r.indices = {1, 4, 0, 5};
    r.values = {2.0f, -1.0f, 0.5f, 3.0f};
    return r;
}

float value_at(const CodeRecord& r, size_t pos, uint32_t atom) { return r.dense(pos)[atom]; }

void expect_valid_csr(const CodeRecord& r) {
    ASSERT_EQ(r.row_ptr.size(), r.positions() + 1);
    for (size_t p = 0; p < r.positions(); ++p)
        for (uint32_t j = r.row_ptr[p]; j < r.row_ptr[p + 1]; ++j) {
            EXPECT_LT(r.indices[j], r.K);
            EXPECT_NE(r.values[j], 0.0f);
            if (j > r.row_ptr[p]) EXPECT_LT(r.indices[j - 1], r.indices[j]);
        }
}

}  // namespace

TEST(Edit, SetAddScaleEverywhereInOrder) {
    CodeRecord r = sample();
    apply_edits(r, {{EditOp::Set, 3, 1.5f}, {EditOp::Add, 3, 0.5f}, {EditOp::Scale, 1, 2.0f}}, {});
    expect_valid_csr(r);
    for (size_t p = 0; p < 4; ++p) EXPECT_FLOAT_EQ(value_at(r, p, 3), 2.0f);
    EXPECT_FLOAT_EQ(value_at(r, 0, 1), 4.0f);
    EXPECT_FLOAT_EQ(value_at(r, 0, 4), -1.0f);  // untouched
    EXPECT_FLOAT_EQ(value_at(r, 3, 5), 3.0f);
    EXPECT_EQ(r.nnz(), 4u + 4u);
    EXPECT_EQ(r.fingerprint, "00112233aabbccdd");
    EXPECT_EQ(r.K, 6u);
}

TEST(Edit, AtOnePositionAndZerosDropped) {
    CodeRecord r = sample();
    apply_edits(r, {{EditOp::Scale, 1, 0.0f}, {EditOp::Add, 0, 1.0f}}, {{0, 0}});
    expect_valid_csr(r);
    EXPECT_FLOAT_EQ(value_at(r, 0, 1), 0.0f);
    EXPECT_FLOAT_EQ(value_at(r, 0, 0), 1.0f);
    EXPECT_FLOAT_EQ(value_at(r, 2, 0), 0.5f);  // other positions unchanged
    EXPECT_EQ(r.row_ptr[1] - r.row_ptr[0], 2u);  // {0: 1, 4: -1}; the zeroed atom 1 is gone
    EXPECT_EQ(r.indices[0], 0u);
    EXPECT_EQ(r.indices[1], 4u);
}

TEST(Edit, Errors) {
    CodeRecord r = sample();
    try {
        apply_edits(r, {{EditOp::Set, 6, 1.0f}}, {});
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("atom 6 is out of range (the model has K=6"), std::string::npos);
    }
    try {
        apply_edits(r, {{EditOp::Set, 0, 1.0f}}, {{2, 0}});
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("--at 2,0 is outside the 2x2 grid"), std::string::npos);
    }
    EXPECT_THROW(traverse_record(r, 9, 0, 1, 3, {}), Error);
    EXPECT_THROW(apply_edits(r, {{EditOp::Scale, 1, 3e38f}, {EditOp::Scale, 1, 10.0f}}, {}), Error);
}

TEST(Edit, Traverse) {
    const auto out = traverse_record(sample(), 2, -1.0, 1.0, 5, {});
    ASSERT_EQ(out.size(), 5u);
    const float want[5] = {-1.0f, -0.5f, 0.0f, 0.5f, 1.0f};
    for (int i = 0; i < 5; ++i) {
        expect_valid_csr(out[i]);
        for (size_t p = 0; p < 4; ++p) EXPECT_FLOAT_EQ(value_at(out[i], p, 2), want[i]);
        EXPECT_FLOAT_EQ(value_at(out[i], 0, 1), 2.0f);
    }
    EXPECT_EQ(out[0].source, "dir/a~traverse2=-1.png");
    EXPECT_EQ(out[3].source, "dir/a~traverse2=0.5.png");
    EXPECT_EQ(out[2].nnz(), 4u);  // value 0: nothing added
    const auto one = traverse_record(sample(), 2, 0.25, 9.0, 1, {{1, 1}});
    ASSERT_EQ(one.size(), 1u);
    EXPECT_FLOAT_EQ(value_at(one[0], 3, 2), 0.25f);
    EXPECT_FLOAT_EQ(value_at(one[0], 0, 2), 0.0f);
    EXPECT_EQ(one[0].source, "dir/a~traverse2@1,1=0.25.png");
}

TEST(Edit, Interpolate) {
    CodeRecord a = sample("a.png"), b = sample("x/b.jpg");
    apply_edits(b, {{EditOp::Set, 1, 4.0f}, {EditOp::Set, 4, 0.0f}, {EditOp::Set, 2, 1.0f}}, {{0, 0}});
    const auto out = interpolate_records(a, b, 3);
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0].values, a.values);
    EXPECT_EQ(out[0].indices, a.indices);
    EXPECT_EQ(out[2].values, b.values);
    expect_valid_csr(out[1]);
    EXPECT_FLOAT_EQ(value_at(out[1], 0, 1), 3.0f);
    EXPECT_FLOAT_EQ(value_at(out[1], 0, 4), -0.5f);
    EXPECT_FLOAT_EQ(value_at(out[1], 0, 2), 0.5f);
    EXPECT_EQ(out[1].source, "a~interp(b)=0.5.png");
    EXPECT_EQ(out[2].source, "a~interp(b)=1.png");
    // Opposite values cancel exactly at t = 0.5 and are dropped.
    CodeRecord c = a;
    for (auto& v : c.values) v = -v;
    const auto mid = interpolate_records(a, c, 3)[1];
    EXPECT_EQ(mid.nnz(), 0u);
    expect_valid_csr(mid);

    CodeRecord other = b;
    other.fingerprint = "ffffffffffffffff";
    try {
        interpolate_records(a, other, 3);
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("different models"), std::string::npos);
    }
    CodeRecord grid = b;
    grid.grid_h = 1;
    grid.grid_w = 4;
    try {
        interpolate_records(a, grid, 3);
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("different grids (2x2 vs 1x4)"), std::string::npos);
    }
    EXPECT_THROW(interpolate_records(a, b, 1), InvalidArgument);
}

TEST(Edit, TagsAndParsing) {
    EXPECT_EQ(tagged_source("dir.v2/a.png", "t"), "dir.v2/a~t.png");
    EXPECT_EQ(tagged_source("dir.v2/noext", "t"), "dir.v2/noext~t");
    EXPECT_EQ(tagged_source(".hidden", "t"), ".hidden~t");
    EXPECT_EQ(tagged_source("-", "t"), "-~t");
    EXPECT_EQ(tagged_source("a.png", ""), "a.png");
    EXPECT_EQ(format_value(0.5), "0.5");
    EXPECT_EQ(format_value(-2), "-2");
    EXPECT_EQ(edits_tag({{EditOp::Set, 3, 1.5f}, {EditOp::Scale, 0, 2}}, {}), "set3=1.5,scale0=2");
    EXPECT_EQ(edits_tag({{EditOp::Add, 1, -1}}, {{0, 1}, {2, 3}}), "add1=-1@0,1+2,3");

    const AtomEdit e = parse_atom_edit("--add", EditOp::Add, "17=-0.25");
    EXPECT_EQ(e.atom, 17u);
    EXPECT_FLOAT_EQ(e.value, -0.25f);
    EXPECT_EQ(e.op, EditOp::Add);
    EXPECT_THROW(parse_atom_edit("--set", EditOp::Set, "17"), UsageError);
    EXPECT_THROW(parse_atom_edit("--set", EditOp::Set, "x=1"), UsageError);
    EXPECT_THROW(parse_atom_edit("--set", EditOp::Set, "-1=1"), UsageError);
    EXPECT_THROW(parse_atom_edit("--set", EditOp::Set, "1=abc"), UsageError);
    EXPECT_THROW(parse_atom_edit("--set", EditOp::Set, "1=1e39"), UsageError);
    const GridPos p = parse_grid_pos("3,14");
    EXPECT_EQ(p.row, 3u);
    EXPECT_EQ(p.col, 14u);
    EXPECT_THROW(parse_grid_pos("3"), UsageError);
    EXPECT_THROW(parse_grid_pos("3,-1"), UsageError);

    EditOptions opt;
    const auto rest = extract_interpolate({"--steps", "4", "--interpolate", "0", "b.scv:2", "in.scv"}, opt);
    EXPECT_TRUE(opt.interpolate);
    EXPECT_EQ(opt.interp_a, "0");
    EXPECT_EQ(opt.interp_b, "b.scv:2");
    EXPECT_EQ(rest, (std::vector<std::string>{"--steps", "4", "in.scv"}));
    EditOptions bad;
    EXPECT_THROW(extract_interpolate({"--interpolate", "0"}, bad), UsageError);
}
