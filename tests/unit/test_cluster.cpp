// Unit tests for scvae/cluster.h: FAISS k-means, assignment, centroid files.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <set>
#include <unistd.h>

#include "scvae/cluster.h"
#include "scvae/error.h"

using namespace scvae;

namespace {

// n points around each of `centres` (dim coordinates), noise sd 0.05; the label of point i is i % centres.
std::vector<float> blobs(const std::vector<std::vector<float>>& centres, size_t per, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> nd(0.f, 0.05f);
    size_t dim = centres[0].size();
    std::vector<float> x;
    for (size_t i = 0; i < per * centres.size(); ++i)
        for (size_t j = 0; j < dim; ++j) x.push_back(centres[i % centres.size()][j] + nd(rng));
    return x;
}

std::string tmp_path(const std::string& name) {
    return ::testing::TempDir() + "/" + name + "." + std::to_string(::getpid());
}

}  // namespace

TEST(KMeans, SeparatesWellSeparatedBlobs) {
    std::vector<std::vector<float>> centres = {{0, 0, 0, 0}, {5, 0, 0, 0}, {0, 5, 0, 0}, {0, 0, 5, 5}};
    std::vector<float> x = blobs(centres, 100, 7);
    KMeansOptions o;
    o.k = 4;
    o.redo = 3;
    std::vector<float> train = x;
    Centroids c = kmeans_train(train.data(), 400, 4, o);
    ASSERT_EQ(c.k, 4u);
    ASSERT_EQ(c.dim, 4u);
    ASSERT_EQ(c.data.size(), 16u);
    std::vector<int64_t> lab(400);
    std::vector<float> dist(400);
    std::vector<float> q = x;
    kmeans_assign(c, q.data(), 400, lab.data(), dist.data());
    // Each true blob maps to one cluster, and the four clusters are distinct.
    std::set<int64_t> used;
    for (size_t b = 0; b < 4; ++b) {
        for (size_t i = b; i < 400; i += 4) EXPECT_EQ(lab[i], lab[b]) << "point " << i;
        used.insert(lab[b]);
    }
    EXPECT_EQ(used.size(), 4u);
    // Each centroid lies near its blob's centre, and distances are small squared L2 distances.
    for (size_t b = 0; b < 4; ++b)
        for (size_t j = 0; j < 4; ++j)
            EXPECT_NEAR(c.data[static_cast<size_t>(lab[b]) * 4 + j], centres[b][j], 0.05);
    for (float v : dist) {
        EXPECT_GE(v, 0.f);
        EXPECT_LT(v, 0.2f);
    }
}

TEST(KMeans, SameSeedSameResult) {
    std::vector<float> x = blobs({{0, 0}, {1, 1}, {3, 0}}, 50, 3);
    KMeansOptions o;
    o.k = 3;
    o.seed = 42;
    std::vector<float> a = x, b = x;
    Centroids ca = kmeans_train(a.data(), 150, 2, o);
    Centroids cb = kmeans_train(b.data(), 150, 2, o);
    EXPECT_EQ(ca.data, cb.data);
}

TEST(KMeans, SphericalUsesDirectionsOnly) {
    // Two directions at very different lengths: cosine k-means groups by direction.
    std::vector<float> x;
    for (int i = 0; i < 40; ++i) {
        float len = 0.1f + 10.0f * static_cast<float>(i % 5);
        if (i % 2 == 0) { x.push_back(len); x.push_back(0.01f * static_cast<float>(i % 3)); }
        else { x.push_back(0.01f * static_cast<float>(i % 3)); x.push_back(len); }
    }
    KMeansOptions o;
    o.k = 2;
    o.spherical = true;
    o.redo = 3;
    std::vector<float> t = x;
    Centroids c = kmeans_train(t.data(), 40, 2, o);
    EXPECT_TRUE(c.spherical);
    for (size_t i = 0; i < 2; ++i)
        EXPECT_NEAR(std::hypot(c.data[i * 2], c.data[i * 2 + 1]), 1.0, 1e-4);  // unit-norm centroids
    std::vector<int64_t> lab(40);
    std::vector<float> dist(40);
    kmeans_assign(c, x.data(), 40, lab.data(), dist.data());
    for (size_t i = 2; i < 40; ++i) EXPECT_EQ(lab[i], lab[i % 2]);
    EXPECT_NE(lab[0], lab[1]);
    for (float v : dist) EXPECT_NEAR(v, 0.0, 0.03);  // 1 - cosine, at most 1 - cos(0.2 rad)
}

TEST(KMeans, RejectsKLargerThanN) {
    std::vector<float> x(10, 1.0f);
    KMeansOptions o;
    o.k = 6;
    try {
        kmeans_train(x.data(), 5, 2, o);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("larger than the number of vectors (5)"), std::string::npos) << e.what();
    }
    EXPECT_THROW(kmeans_train(x.data(), 0, 2, o), Error);
}

TEST(KMeans, NormalizeRowsKeepsZeroRows) {
    std::vector<float> x = {3, 4, 0, 0};
    normalize_rows(x.data(), 2, 2);
    EXPECT_FLOAT_EQ(x[0], 0.6f);
    EXPECT_FLOAT_EQ(x[1], 0.8f);
    EXPECT_EQ(x[2], 0.f);
    EXPECT_EQ(x[3], 0.f);
}

TEST(CentroidFile, RoundTrip) {
    Centroids c;
    c.k = 3;
    c.dim = 5;
    c.spherical = true;
    for (int i = 0; i < 15; ++i) c.data.push_back(0.25f * static_cast<float>(i) - 1.0f);
    c.fingerprint = "0123456789abcdef";
    c.grid_h = 16;
    c.grid_w = 8;
    c.d = 4;
    c.objective = 12.5;
    c.iters = 20;
    c.seed = 99;
    c.points = 1000;
    c.trained_on = 500;
    std::string p = tmp_path("round.scvk");
    save_centroids(p, c);
    Centroids r = load_centroids(p);
    EXPECT_EQ(r.k, c.k);
    EXPECT_EQ(r.dim, c.dim);
    EXPECT_EQ(r.spherical, c.spherical);
    EXPECT_EQ(r.data, c.data);
    EXPECT_EQ(r.fingerprint, c.fingerprint);
    EXPECT_EQ(r.grid_h, 16u);
    EXPECT_EQ(r.grid_w, 8u);
    EXPECT_EQ(r.d, 4u);
    EXPECT_DOUBLE_EQ(r.objective, 12.5);
    EXPECT_EQ(r.iters, 20);
    EXPECT_EQ(r.seed, 99u);
    EXPECT_EQ(r.points, 1000u);
    EXPECT_EQ(r.trained_on, 500u);
    // Assignments with the reloaded centroids equal those with the original ones.
    std::vector<float> q = {0.3f, -0.2f, 0.1f, 0.9f, 0.0f};
    std::vector<float> q2 = q;
    int64_t l1, l2;
    float d1, d2;
    kmeans_assign(c, q.data(), 1, &l1, &d1);
    kmeans_assign(r, q2.data(), 1, &l2, &d2);
    EXPECT_EQ(l1, l2);
    EXPECT_FLOAT_EQ(d1, d2);
    std::remove(p.c_str());
}

TEST(CentroidFile, DetectsCorruptionAndForeignFiles) {
    Centroids c;
    c.k = 2;
    c.dim = 2;
    c.data = {1, 2, 3, 4};
    std::string p = tmp_path("corrupt.scvk");
    save_centroids(p, c);
    {
        std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(-6, std::ios::end);  // inside the centroid values
        char ch = 0x55;
        f.write(&ch, 1);
    }
    try {
        load_centroids(p);
        FAIL() << "expected a checksum error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("checksum"), std::string::npos) << e.what();
    }
    {
        std::ofstream f(p, std::ios::binary | std::ios::trunc);
        f << "not a centroid file";
    }
    try {
        load_centroids(p);
        FAIL() << "expected a format error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("SCVK"), std::string::npos) << e.what();
    }
    std::remove(p.c_str());
    EXPECT_THROW(load_centroids(p), Error);  // missing file
}

TEST(SourceImage, FoundUnderDirOrClearError) {
    std::string dir = ::testing::TempDir();
    std::string name = "scvae-src-" + std::to_string(::getpid()) + ".png";
    { std::ofstream f(dir + "/" + name); f << "x"; }
    EXPECT_EQ(find_source_image("some/where/" + name, dir, "mosaic"), dir + "/" + name);
    try {
        find_source_image("missing-image.png", "", "mosaic");
        FAIL();
    } catch (const Error& e) {
        std::string m = e.what();
        EXPECT_NE(m.find("mosaic: source image 'missing-image.png' not found"), std::string::npos) << m;
    }
    std::remove((dir + "/" + name).c_str());
}

namespace {

// Sparse rows of n points: `nnz` of `dim` coordinates around one of `protos` random sparse prototypes
// (point i belongs to prototype i % protos), noise sd 0.05 on the prototype's support.
SparseRows sparse_points(size_t n, size_t dim, size_t protos, size_t nnz, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> nd(0.f, 1.f), noise(0.f, 0.05f);
    std::vector<std::vector<uint16_t>> sup(protos);
    std::vector<std::vector<float>> val(protos);
    for (size_t p = 0; p < protos; ++p) {
        std::set<uint16_t> s;
        while (s.size() < nnz) s.insert(static_cast<uint16_t>(rng() % dim));
        sup[p].assign(s.begin(), s.end());
        for (size_t i = 0; i < nnz; ++i) val[p].push_back(2.f + std::abs(nd(rng)));
    }
    SparseRows x;
    x.dim = dim;
    for (size_t i = 0; i < n; ++i) {
        const size_t p = i % protos;
        std::vector<float> v = val[p];
        for (float& f : v) f += noise(rng);
        x.add_row(sup[p].data(), v.data(), v.size());
    }
    return x;
}

std::vector<float> dense_of(const SparseRows& x) {
    std::vector<float> d(x.rows() * x.dim, 0.f);
    for (size_t i = 0; i < x.rows(); ++i)
        for (size_t t = x.ptr[i]; t < x.ptr[i + 1]; ++t) d[i * x.dim + x.idx[t]] = x.val[t];
    return d;
}

// Trains and assigns with the dense (FAISS) and the sparse path; expects the same labels and distances
// (exact_labels), or, where near-ties let float rounding send a few points the other way (rows drawn near the
// same prototype as initial centroids), the same objective within 0.5 % and 99 % of the labels.
void expect_same_as_dense(SparseRows x, const KMeansOptions& o, bool exact_labels = true) {
    const size_t n = x.rows(), dim = x.dim;
    std::vector<float> d = dense_of(x), dq = d;
    Centroids cd = kmeans_train(d.data(), n, dim, o);
    SparseRows xs = x;
    Centroids cs = kmeans_train_sparse(xs, o);
    ASSERT_EQ(cs.k, cd.k);
    ASSERT_EQ(cs.data.size(), cd.data.size());
    std::vector<int64_t> ld(n), ls(n);
    std::vector<float> dd(n), ds(n);
    kmeans_assign(cd, dq.data(), n, ld.data(), dd.data());
    kmeans_assign_sparse(cs, x, ls.data(), ds.data());
    if (!exact_labels) {
        size_t same = 0;
        for (size_t i = 0; i < n; ++i) same += ls[i] == ld[i];
        EXPECT_GE(double(same), 0.99 * double(n));
        EXPECT_NEAR(cs.objective, cd.objective, 5e-3 * std::abs(cd.objective));
        return;
    }
    for (size_t i = 0; i < n; ++i) {
        EXPECT_EQ(ls[i], ld[i]) << "point " << i;
        EXPECT_NEAR(ds[i], dd[i], 1e-3 * (1 + std::abs(dd[i]))) << "point " << i;
    }
    for (size_t i = 0; i < cd.data.size(); ++i) EXPECT_NEAR(cs.data[i], cd.data[i], 1e-4) << "coordinate " << i;
    EXPECT_NEAR(cs.objective, cd.objective, 1e-3 * (1 + std::abs(cd.objective)));
}

}  // namespace

TEST(SparseKMeans, SameAsDenseWithKMeansPlusPlusSeeding) {
    KMeansOptions o;
    o.k = 6;
    o.iters = 8;
    o.seed = 5;
    expect_same_as_dense(sparse_points(600, 64, 6, 5, 1), o);
}

TEST(SparseKMeans, SameAsDenseWithFaissRandomSeeding) {
    // n * k * dim above 2^31: both paths start from FAISS's random permutation of the rows
    KMeansOptions o;
    o.k = 300;
    o.iters = 4;
    o.seed = 9;
    SparseRows x = sparse_points(30000, 256, 300, 8, 2);
    ASSERT_GT(double(x.rows()) * 300 * 256, 2147483648.0);
    expect_same_as_dense(x, o, false);
}

TEST(SparseKMeans, EmptyClustersAreSplitAsFaissDoes) {
    // 40 copies of 2 distinct points into 5 clusters: 3 clusters go empty at every iteration and are split off
    SparseRows x;
    x.dim = 8;
    const uint16_t ia[2] = {1, 4}, ib[1] = {6};
    const float va[2] = {1.f, 2.f}, vb[1] = {3.f};
    for (int i = 0; i < 40; ++i) {
        if (i % 2) x.add_row(ia, va, 2);
        else x.add_row(ib, vb, 1);
    }
    KMeansOptions o;
    o.k = 5;
    o.iters = 3;
    expect_same_as_dense(x, o);
}

TEST(SparseKMeans, SphericalSeparatesDirections) {
    // the same supports at lengths 1 and 100: cosine k-means groups by direction only
    SparseRows x = sparse_points(200, 32, 2, 3, 4);
    for (size_t i = 0; i < x.rows(); i += 4)
        for (size_t t = x.ptr[i]; t < x.ptr[i + 1]; ++t) x.val[t] *= 100.f;
    KMeansOptions o;
    o.k = 2;
    o.spherical = true;
    SparseRows train = x;
    Centroids c = kmeans_train_sparse(train, o);
    std::vector<int64_t> lab(200);
    std::vector<float> dist(200);
    kmeans_assign_sparse(c, x, lab.data(), dist.data());
    EXPECT_NE(lab[0], lab[1]);
    for (size_t i = 0; i < 200; ++i) {
        EXPECT_EQ(lab[i], lab[i % 2]) << "point " << i;
        EXPECT_GE(dist[i], -1e-4f);
        EXPECT_LT(dist[i], 0.05f);  // 1 - cosine to its direction's centroid
    }
}

TEST(SparseKMeans, EveryRowItsOwnCentroidWhenKEqualsN) {
    SparseRows x = sparse_points(7, 16, 7, 2, 3);
    KMeansOptions o;
    o.k = 7;
    SparseRows t = x;
    Centroids c = kmeans_train_sparse(t, o);
    EXPECT_EQ(c.data, dense_of(x));
    KMeansOptions bad;
    bad.k = 8;
    EXPECT_THROW(kmeans_train_sparse(t, bad), Error);
}

TEST(SparseKMeans, PaysBelowAnEighthOfTheDimensions) {
    EXPECT_TRUE(sparse_kmeans_pays(1000, 1000 * 20, 512));
    EXPECT_FALSE(sparse_kmeans_pays(1000, 1000 * 64, 512));
    EXPECT_FALSE(sparse_kmeans_pays(0, 0, 512));
}

TEST(SparseKMeans, HugeFiniteValuesAreAnError) {
    SparseRows x = sparse_points(20, 16, 2, 2, 5);
    x.val[3] = 3e30f;
    KMeansOptions o;
    o.k = 2;
    SparseRows t = x;
    EXPECT_THROW(kmeans_train_sparse(t, o), Error);
}

// Issue 15: values beyond the code value bound (finite, checksum correct) made FAISS abort (k-means) or left
// the label at -1 and the distance at inf (assignment, written as invalid JSON). They are refused as errors.
TEST(CentroidFile, ValuesBeyondTheBoundAreRefused) {
    Centroids c;
    c.k = 2;
    c.dim = 3;
    c.data = {0, 1, 2, 3, 4, kMaxCentroidValue};
    std::string p = tmp_path("bound.scvk");
    save_centroids(p, c);
    EXPECT_EQ(load_centroids(p).data, c.data);  // at the bound: accepted
    c.data[5] = 4e15f;
    save_centroids(p, c);  // the writer does not check: the reader must
    try {
        load_centroids(p);
        FAIL() << "expected a value error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(": centroid 1: value out of range (|value| at most 2e15)"),
                  std::string::npos)
            << e.what();
    }
    std::remove(p.c_str());
    // the regression file of the finding (values 1e30 and -3e38, CRC fixed up)
    EXPECT_THROW(load_centroids(std::string(SCVAE_TEST_DATA) + "/fuzz/fuzz_centroids/regress-values-1e30.scvk"), Error);
}

TEST(KMeans, HugeFiniteValuesAreAnErrorNotAnAbort) {
    for (float big : {1e19f, 1e30f, 3e38f}) {
        std::vector<float> x = blobs({{0, 0}, {5, 5}}, 20, 1);
        x[7] = big;
        KMeansOptions opt;
        opt.k = 2;
        try {
            kmeans_train(x.data(), x.size() / 2, 2, opt);
            FAIL() << "expected an error for " << big;
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("k-means input: value out of range"), std::string::npos) << e.what();
        }
        // assignment: the vectors and the centroids are checked alike
        Centroids c;
        c.k = 2;
        c.dim = 2;
        c.data = {0, 0, 5, 5};
        std::vector<int64_t> labels(x.size() / 2);
        std::vector<float> dist(x.size() / 2);
        EXPECT_THROW(kmeans_assign(c, x.data(), x.size() / 2, labels.data(), dist.data()), Error);
        c.data[3] = big;
        std::vector<float> ok = {1, 1};
        int64_t l;
        float d;
        EXPECT_THROW(kmeans_assign(c, ok.data(), 1, &l, &d), Error);
    }
    // at the bound, distances stay finite and k-means separates the two groups
    std::vector<float> x;
    for (int i = 0; i < 20; ++i) {
        const float v = (i % 2 ? 1.0f : -1.0f) * kMaxCodeValue;
        x.insert(x.end(), {v, v, -v, v});
    }
    KMeansOptions opt;
    opt.k = 2;
    Centroids c = kmeans_train(x.data(), 20, 4, opt);
    std::vector<int64_t> labels(20);
    std::vector<float> dist(20);
    kmeans_assign(c, x.data(), 20, labels.data(), dist.data());
    for (int i = 0; i < 20; ++i) {
        EXPECT_TRUE(std::isfinite(dist[i]));
        EXPECT_EQ(labels[i], labels[i % 2]);
    }
    EXPECT_NE(labels[0], labels[1]);
}

// A centroid file written before the containers shared one byte layer (tests/data/golden/v1.scvk, scvae-cluster
// -k 3 --seed 1 on photo1.jpg's codes with tests/data/tiny.scvm) reads, and writes back byte for byte.
TEST(CentroidFile, GoldenV1ReadsAndRewritesIdentically) {
    const std::string golden = std::string(SCVAE_TEST_DATA) + "/golden/v1.scvk";
    const Centroids c = load_centroids(golden);
    EXPECT_EQ(c.k, 3u);
    EXPECT_EQ(c.dim, 32u);
    EXPECT_EQ(c.fingerprint, "75580e8621dc9329");
    EXPECT_EQ(c.grid_h, 32u);
    EXPECT_EQ(c.points, 1024u);
    ASSERT_EQ(c.data.size(), 96u);
    for (float v : c.data) EXPECT_TRUE(std::isfinite(v));
    const std::string p = tmp_path("golden.scvk");
    save_centroids(p, c);
    auto slurp = [](const std::string& f) {
        std::ifstream in(f, std::ios::binary);
        return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    };
    EXPECT_EQ(slurp(p), slurp(golden));
    std::remove(p.c_str());
    // cut short: the size it needs and the size it has
    const std::string whole = slurp(golden);
    for (size_t cut : {size_t(6), size_t(40)}) {
        const std::vector<uint8_t> b(whole.begin(), whole.begin() + long(cut));
        try {
            parse_centroids(b, "cut.scvk");
            FAIL() << cut;
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("cut.scvk: truncated centroid file (expected "), std::string::npos)
                << e.what();
            EXPECT_NE(std::string(e.what()).find(" bytes, got " + std::to_string(cut) + ")"), std::string::npos)
                << e.what();
        }
    }
}
