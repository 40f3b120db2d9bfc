// metrics.cpp - PSNR, MSE, SSIM, MS-SSIM, Hoyer sparsity and code statistics, IoU/Dice, Fréchet distance.
// Pure arithmetic on scvae::Image and CodeRecord: no file I/O, no LibTorch. Conventions: scvae/metrics.h.
#include "scvae/metrics.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "scvae/error.h"

namespace scvae {

namespace {

std::string shape_string(const Image& im) {
    return std::to_string(im.width) + "x" + std::to_string(im.height) + "x" + std::to_string(im.channels);
}

// One channel of an image on the 8-bit scale, in double.
std::vector<double> channel_255(const Image& im, int c) {
    std::vector<double> out(im.pixels());
    const size_t C = static_cast<size_t>(im.channels);
    for (size_t i = 0; i < out.size(); ++i) out[i] = 255.0 * static_cast<double>(im.data[i * C + c]);
    return out;
}

// 1-D Gaussian weights as scipy.ndimage builds them: radius int(truncate*sigma + 0.5), normalised.
std::array<double, kSsimWindow> gaussian_weights() {
    const double sigma = 1.5;
    const int r = kSsimWindow / 2;
    std::array<double, kSsimWindow> w{};
    double sum = 0;
    for (int i = -r; i <= r; ++i) {
        w[i + r] = std::exp(-0.5 * i * i / (sigma * sigma));
        sum += w[i + r];
    }
    for (auto& v : w) v /= sum;
    return w;
}

// scipy.ndimage 'reflect' (half-sample symmetric): d c b a | a b c d | d c b a.
inline int reflect_index(int i, int n) {
    while (i < 0 || i >= n) {
        if (i < 0) i = -i - 1;
        if (i >= n) i = 2 * n - i - 1;
    }
    return i;
}

// Separable Gaussian filter, axis 0 (rows) then axis 1 (columns), like scipy.ndimage.gaussian_filter.
std::vector<double> gaussian_filter(const std::vector<double>& in, int w, int h) {
    static const std::array<double, kSsimWindow> g = gaussian_weights();
    const int r = kSsimWindow / 2;
    std::vector<double> tmp(in.size()), out(in.size());
    for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
            double s = 0;
            for (int k = -r; k <= r; ++k) s += g[k + r] * in[static_cast<size_t>(reflect_index(y + k, h)) * w + x];
            tmp[static_cast<size_t>(y) * w + x] = s;
        }
    }
    for (int y = 0; y < h; ++y) {
        const double* row = &tmp[static_cast<size_t>(y) * w];
        for (int x = 0; x < w; ++x) {
            double s = 0;
            for (int k = -r; k <= r; ++k) s += g[k + r] * row[reflect_index(x + k, w)];
            out[static_cast<size_t>(y) * w + x] = s;
        }
    }
    return out;
}

void check_ssim_size(const Image& a) {
    if (a.width < kSsimWindow || a.height < kSsimWindow)
        throw Error("image too small for SSIM (" + std::to_string(a.width) + "x" + std::to_string(a.height) +
                    ", needs at least 11x11)");
}

// 2x2 average pooling of one channel; an odd last row/column is dropped.
std::vector<double> downsample2(const std::vector<double>& in, int w, int h, int& nw, int& nh) {
    nw = w / 2;
    nh = h / 2;
    std::vector<double> out(static_cast<size_t>(nw) * nh);
    for (int y = 0; y < nh; ++y)
        for (int x = 0; x < nw; ++x) {
            const size_t i0 = static_cast<size_t>(2 * y) * w + 2 * x, i1 = i0 + w;
            out[static_cast<size_t>(y) * nw + x] = 0.25 * (in[i0] + in[i0 + 1] + in[i1] + in[i1 + 1]);
        }
    return out;
}

}  // namespace

void check_same_shape(const Image& a, const Image& b, const std::string& what) {
    if (a.width != b.width || a.height != b.height || a.channels != b.channels)
        throw Error(what + ": images differ in size (" + shape_string(a) + " vs " + shape_string(b) + ")");
    if (a.data.size() != a.pixels() * a.channels || b.data.size() != b.pixels() * b.channels)
        throw Error(what + ": image data does not match its size");
    if (a.pixels() == 0 || a.channels <= 0) throw Error(what + ": empty image");
}

double mse(const Image& a, const Image& b) {
    check_same_shape(a, b, "mse");
    double s = 0;
    for (size_t i = 0; i < a.data.size(); ++i) {
        const double d = 255.0 * (static_cast<double>(a.data[i]) - static_cast<double>(b.data[i]));
        s += d * d;
    }
    return s / static_cast<double>(a.data.size());
}

double psnr_from_mse(double m) {
    if (!(m > 0)) return kPsnrIdentical;
    return std::min(kPsnrIdentical, 10.0 * std::log10(255.0 * 255.0 / m));
}

double psnr(const Image& a, const Image& b) { return psnr_from_mse(mse(a, b)); }

SsimParts ssim_channel(const double* x, const double* y, int w, int h) {
    if (w < kSsimWindow || h < kSsimWindow) throw Error("image too small for SSIM (needs at least 11x11)");
    const size_t n = static_cast<size_t>(w) * h;
    std::vector<double> X(x, x + n), Y(y, y + n), XX(n), YY(n), XY(n);
    for (size_t i = 0; i < n; ++i) {
        XX[i] = X[i] * X[i];
        YY[i] = Y[i] * Y[i];
        XY[i] = X[i] * Y[i];
    }
    const auto ux = gaussian_filter(X, w, h), uy = gaussian_filter(Y, w, h);
    const auto uxx = gaussian_filter(XX, w, h), uyy = gaussian_filter(YY, w, h), uxy = gaussian_filter(XY, w, h);
    const double C1 = (0.01 * 255) * (0.01 * 255), C2 = (0.03 * 255) * (0.03 * 255);
    const int pad = (kSsimWindow - 1) / 2;
    double ssum = 0, csum = 0;
    for (int r = pad; r < h - pad; ++r)
        for (int c = pad; c < w - pad; ++c) {
            const size_t i = static_cast<size_t>(r) * w + c;
            const double vx = uxx[i] - ux[i] * ux[i], vy = uyy[i] - uy[i] * uy[i], vxy = uxy[i] - ux[i] * uy[i];
            const double cs = (2 * vxy + C2) / (vx + vy + C2);
            const double l = (2 * ux[i] * uy[i] + C1) / (ux[i] * ux[i] + uy[i] * uy[i] + C1);
            ssum += l * cs;
            csum += cs;
        }
    const double count = static_cast<double>(w - 2 * pad) * (h - 2 * pad);
    return {ssum / count, csum / count};
}

double ssim(const Image& a, const Image& b) {
    check_same_shape(a, b, "ssim");
    check_ssim_size(a);
    double s = 0;
    for (int c = 0; c < a.channels; ++c) {
        const auto x = channel_255(a, c), y = channel_255(b, c);
        s += ssim_channel(x.data(), y.data(), a.width, a.height).ssim;
    }
    return s / a.channels;
}

int ms_ssim_scales(int width, int height) {
    int m = 0, w = width, h = height;
    while (m < 5 && std::min(w, h) >= kSsimWindow) {
        ++m;
        w /= 2;
        h /= 2;
    }
    return m;
}

double ms_ssim(const Image& a, const Image& b, int* scales_used) {
    check_same_shape(a, b, "ms-ssim");
    check_ssim_size(a);
    static const double kWeights[5] = {0.0448, 0.2856, 0.3001, 0.2363, 0.1333};
    const int M = ms_ssim_scales(a.width, a.height);
    double wsum = 0;
    for (int i = 0; i < M; ++i) wsum += kWeights[i];
    std::vector<std::vector<double>> xs, ys;
    for (int c = 0; c < a.channels; ++c) {
        xs.push_back(channel_255(a, c));
        ys.push_back(channel_255(b, c));
    }
    int w = a.width, h = a.height;
    double value = 1.0;
    for (int s = 0; s < M; ++s) {
        double ssum = 0, csum = 0;
        for (int c = 0; c < a.channels; ++c) {
            const SsimParts p = ssim_channel(xs[c].data(), ys[c].data(), w, h);
            ssum += p.ssim;
            csum += p.cs;
        }
        const double term = (s == M - 1 ? ssum : csum) / a.channels;
        value *= std::pow(std::max(term, 0.0), kWeights[s] / wsum);
        if (s < M - 1) {
            int nw = 0, nh = 0;
            for (int c = 0; c < a.channels; ++c) {
                xs[c] = downsample2(xs[c], w, h, nw, nh);
                ys[c] = downsample2(ys[c], w, h, nw, nh);
            }
            w = nw;
            h = nh;
        }
    }
    if (scales_used) *scales_used = M;
    return value;
}

// ---------------------------------------------------------------- code statistics

double hoyer_sparsity(const float* z, size_t K) {
    if (K <= 1) return 1.0;
    double l1 = 0, l2 = 0;
    for (size_t i = 0; i < K; ++i) {
        const double v = z[i];
        l1 += std::fabs(v);
        l2 += v * v;
    }
    if (l2 == 0) return 1.0;
    const double sk = std::sqrt(static_cast<double>(K));
    return (sk - l1 / std::sqrt(l2)) / (sk - 1.0);
}

RecordStats CodeStatsAccumulator::add(const CodeRecord& rec, uint64_t bytes) {
    if (s_.records == 0) {
        s_.K = rec.K;
        s_.fingerprint = rec.fingerprint;
        s_.atom_histogram.assign(rec.K, 0);
    } else if (rec.fingerprint != s_.fingerprint) {
        throw Error("records of different models in one stream (fingerprint " + rec.fingerprint + " vs " +
                    s_.fingerprint + ")");
    } else if (rec.K != s_.K) {
        throw Error("records of model " + rec.fingerprint + " with different K in one stream (K=" +
                    std::to_string(rec.K) + " vs " + std::to_string(s_.K) + ")");
    }
    RecordStats r;
    r.source = rec.source;
    r.vectors = rec.positions();
    r.bytes = bytes;
    const size_t P = rec.positions();
    const double sk = std::sqrt(static_cast<double>(rec.K));
    double hsum = 0;
    uint64_t nnz = 0;
    for (size_t p = 0; p < P; ++p) {
        double l1 = 0, l2 = 0;
        uint64_t k = 0;
        for (uint32_t j = rec.row_ptr[p]; j < rec.row_ptr[p + 1]; ++j) {
            const double v = rec.values[j];
            if (v == 0) continue;
            ++k;
            l1 += std::fabs(v);
            l2 += v * v;
            ++s_.atom_histogram[rec.indices[j]];
        }
        const double h = (rec.K <= 1 || l2 == 0) ? 1.0 : (sk - l1 / std::sqrt(l2)) / (sk - 1.0);
        hsum += h;
        hoyer_sum_ += h;
        hoyer_sq_ += h * h;
        nnz += k;
    }
    r.hoyer = P ? hsum / P : 1.0;
    r.nnz_per_vector = P ? static_cast<double>(nnz) / P : 0.0;
    const uint64_t pixels = static_cast<uint64_t>(rec.image_width) * rec.image_height;
    r.bpp = pixels ? 8.0 * static_cast<double>(bytes) / pixels : 0.0;
    ++s_.records;
    s_.vectors += P;
    s_.bytes += bytes;
    s_.pixels += pixels;
    nnz_ += nnz;
    return r;
}

double histogram_entropy_bits(const std::vector<uint64_t>& counts) {
    double total = 0;
    for (uint64_t c : counts) total += static_cast<double>(c);
    if (!(total > 0)) return 0.0;
    double h = 0;
    for (uint64_t c : counts)
        if (c > 0) {
            double p = static_cast<double>(c) / total;
            h -= p * std::log2(p);
        }
    return h > 0 ? h : 0.0;
}

CodeStats CodeStatsAccumulator::result() const {
    CodeStats s = s_;
    if (s.vectors) {
        const double n = static_cast<double>(s.vectors);
        s.hoyer_mean = hoyer_sum_ / n;
        s.hoyer_std = std::sqrt(std::max(0.0, hoyer_sq_ / n - s.hoyer_mean * s.hoyer_mean));
        s.nnz_per_vector = static_cast<double>(nnz_) / n;
        s.zero_fraction = s.K ? 1.0 - static_cast<double>(nnz_) / (n * s.K) : 0.0;
    }
    s.atoms_used = 0;
    for (uint64_t c : s.atom_histogram) s.atoms_used += c > 0;
    s.dead_atoms = s.K > s.atoms_used ? s.K - s.atoms_used : 0;
    s.atom_entropy_bits = histogram_entropy_bits(s.atom_histogram);
    s.bpp = s.pixels ? 8.0 * static_cast<double>(s.bytes) / s.pixels : 0.0;
    return s;
}

// ---------------------------------------------------------------- masks

std::vector<uint8_t> binary_mask(const Image& m, int size) {
    if (m.width <= 0 || m.height <= 0 || m.channels <= 0) throw Error("empty mask image");
    const int colour = (m.channels == 2 || m.channels == 1) ? 1 : 3;
    std::vector<uint8_t> out(static_cast<size_t>(size) * size);
    for (int y = 0; y < size; ++y) {
        const int sy = std::min(m.height - 1, static_cast<int>((y + 0.5) * m.height / size));
        for (int x = 0; x < size; ++x) {
            const int sx = std::min(m.width - 1, static_cast<int>((x + 0.5) * m.width / size));
            double v = 0;
            for (int c = 0; c < colour; ++c) v += m.at(sy, sx, c);
            out[static_cast<size_t>(y) * size + x] = std::lround(255.0 * v / colour) >= 128;
        }
    }
    return out;
}

MaskScores mask_scores(const Image& pred, const Image& truth, int size) {
    const auto p = binary_mask(pred, size), g = binary_mask(truth, size);
    uint64_t inter = 0, uni = 0, np = 0, ng = 0;
    for (size_t i = 0; i < p.size(); ++i) {
        inter += p[i] & g[i];
        uni += p[i] | g[i];
        np += p[i];
        ng += g[i];
    }
    MaskScores s;
    s.iou = uni ? static_cast<double>(inter) / uni : 1.0;
    s.dice = (np + ng) ? 2.0 * inter / static_cast<double>(np + ng) : 1.0;
    return s;
}

// ---------------------------------------------------------------- Fréchet distance

Gaussian feature_statistics(const std::vector<double>& f, size_t n, size_t dim) {
    if (n < 2) throw Error("FID needs at least 2 images per set (got " + std::to_string(n) + ")");
    if (f.size() != n * dim) throw Error("feature matrix has the wrong size");
    Gaussian g;
    g.dim = dim;
    g.mean.assign(dim, 0.0);
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < dim; ++j) g.mean[j] += f[i * dim + j];
    for (auto& m : g.mean) m /= static_cast<double>(n);
    g.cov.assign(dim * dim, 0.0);
    std::vector<double> c(dim);
    for (size_t i = 0; i < n; ++i) {
        for (size_t j = 0; j < dim; ++j) c[j] = f[i * dim + j] - g.mean[j];
        for (size_t a = 0; a < dim; ++a) {
            const double ca = c[a];
            double* row = &g.cov[a * dim];
            for (size_t b = a; b < dim; ++b) row[b] += ca * c[b];
        }
    }
    for (size_t a = 0; a < dim; ++a)
        for (size_t b = a; b < dim; ++b) {
            const double v = g.cov[a * dim + b] / static_cast<double>(n - 1);
            g.cov[a * dim + b] = v;
            g.cov[b * dim + a] = v;
        }
    return g;
}

namespace {

// EISPACK tred2 + tql2 (as in JAMA) on the transpose W = V^T (W[j*n+i] = V[i][j]), so that every inner loop
// runs over contiguous memory. Returns the eigenvalues (unsorted); W's row j is then eigenvector j.
// Without `vectors` the rotations of tql2 are not accumulated.
std::vector<double> eigen_core(const std::vector<double>& a, size_t n, bool vectors, std::vector<double>& W) {
    W = a;  // symmetric: A^T = A
    std::vector<double> d(n), e(n);
    auto V = [&](size_t i, size_t j) -> double& { return W[j * n + i]; };
    if (n == 0) return d;
    for (size_t j = 0; j < n; ++j) d[j] = V(n - 1, j);
    for (size_t i = n - 1; i > 0; --i) {
        double scale = 0, h = 0;
        for (size_t k = 0; k < i; ++k) scale += std::fabs(d[k]);
        if (scale == 0) {
            e[i] = d[i - 1];
            for (size_t j = 0; j < i; ++j) {
                d[j] = V(i - 1, j);
                V(i, j) = 0;
                V(j, i) = 0;
            }
        } else {
            for (size_t k = 0; k < i; ++k) {
                d[k] /= scale;
                h += d[k] * d[k];
            }
            double f = d[i - 1];
            double g = std::sqrt(h);
            if (f > 0) g = -g;
            e[i] = scale * g;
            h -= f * g;
            d[i - 1] = f - g;
            for (size_t j = 0; j < i; ++j) e[j] = 0;
            for (size_t j = 0; j < i; ++j) {
                f = d[j];
                V(j, i) = f;
                const double* col = &W[j * n];  // col[k] = V(k, j)
                g = e[j] + col[j] * f;
                for (size_t k = j + 1; k <= i - 1; ++k) {
                    g += col[k] * d[k];
                    e[k] += col[k] * f;
                }
                e[j] = g;
            }
            f = 0;
            for (size_t j = 0; j < i; ++j) {
                e[j] /= h;
                f += e[j] * d[j];
            }
            const double hh = f / (h + h);
            for (size_t j = 0; j < i; ++j) e[j] -= hh * d[j];
            for (size_t j = 0; j < i; ++j) {
                f = d[j];
                g = e[j];
                double* col = &W[j * n];
                for (size_t k = j; k <= i - 1; ++k) col[k] -= (f * e[k] + g * d[k]);
                d[j] = V(i - 1, j);
                V(i, j) = 0;
            }
        }
        d[i] = h;
    }
    for (size_t i = 0; i + 1 < n; ++i) {
        V(n - 1, i) = V(i, i);
        V(i, i) = 1;
        const double h = d[i + 1];
        double* ci1 = &W[(i + 1) * n];  // ci1[k] = V(k, i+1)
        if (h != 0) {
            for (size_t k = 0; k <= i; ++k) d[k] = ci1[k] / h;
            for (size_t j = 0; j <= i; ++j) {
                double* cj = &W[j * n];
                double g = 0;
                for (size_t k = 0; k <= i; ++k) g += ci1[k] * cj[k];
                for (size_t k = 0; k <= i; ++k) cj[k] -= g * d[k];
            }
        }
        for (size_t k = 0; k <= i; ++k) ci1[k] = 0;
    }
    for (size_t j = 0; j < n; ++j) {
        d[j] = V(n - 1, j);
        V(n - 1, j) = 0;
    }
    V(n - 1, n - 1) = 1;
    e[0] = 0;

    // tql2: symmetric tridiagonal QL with implicit shifts.
    for (size_t i = 1; i < n; ++i) e[i - 1] = e[i];
    e[n - 1] = 0;
    double f = 0, tst1 = 0;
    const double eps = std::numeric_limits<double>::epsilon();
    for (size_t l = 0; l < n; ++l) {
        tst1 = std::max(tst1, std::fabs(d[l]) + std::fabs(e[l]));
        size_t m = l;
        while (m < n) {
            if (std::fabs(e[m]) <= eps * tst1) break;
            ++m;
        }
        if (m == n) m = n - 1;  // e[n-1] is 0, so this is not reached in exact arithmetic
        if (m > l) {
            int iter = 0;
            do {
                if (++iter > 100) throw Error("eigendecomposition did not converge");
                double g = d[l];
                double p = (d[l + 1] - g) / (2 * e[l]);
                double r = std::hypot(p, 1.0);
                if (p < 0) r = -r;
                d[l] = e[l] / (p + r);
                d[l + 1] = e[l] * (p + r);
                const double dl1 = d[l + 1];
                double h = g - d[l];
                for (size_t i = l + 2; i < n; ++i) d[i] -= h;
                f += h;
                p = d[m];
                double c = 1, c2 = 1, c3 = 1, s = 0, s2 = 0;
                const double el1 = e[l + 1];
                for (size_t ii = m; ii-- > l;) {
                    c3 = c2;
                    c2 = c;
                    s2 = s;
                    g = c * e[ii];
                    h = c * p;
                    r = std::hypot(p, e[ii]);
                    e[ii + 1] = s * r;
                    s = e[ii] / r;
                    c = p / r;
                    p = c * d[ii] - s * g;
                    d[ii + 1] = h + s * (c * g + s * d[ii]);
                    if (vectors) {
                        double* a0 = &W[ii * n];
                        double* a1 = &W[(ii + 1) * n];
                        for (size_t k = 0; k < n; ++k) {
                            const double t = a1[k];
                            a1[k] = s * a0[k] + c * t;
                            a0[k] = c * a0[k] - s * t;
                        }
                    }
                }
                p = -s * s2 * c3 * el1 * e[l] / dl1;
                e[l] = s * p;
                d[l] = c * p;
            } while (std::fabs(e[l]) > eps * tst1);
        }
        d[l] += f;
        e[l] = 0;
    }
    return d;
}

// Eigenvalues at or below n * eps * max|lambda| are zero within rounding (numerical rank); their square
// roots (~1e-8 of the scale) would otherwise add noise to the trace of singular covariances.
double numerical_zero(const std::vector<double>& d) {
    double mx = 0;
    for (double v : d) mx = std::max(mx, std::fabs(v));
    return static_cast<double>(d.size()) * std::numeric_limits<double>::epsilon() * mx;
}

}  // namespace

std::vector<double> symmetric_eigen(const std::vector<double>& a, size_t n, std::vector<double>* vectors) {
    std::vector<double> W;
    const std::vector<double> d = eigen_core(a, n, vectors != nullptr, W);
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return d[x] < d[y]; });
    std::vector<double> vals(n);
    for (size_t i = 0; i < n; ++i) vals[i] = d[order[i]];
    if (vectors) {
        vectors->assign(n * n, 0.0);
        for (size_t j = 0; j < n; ++j) {
            const double* u = &W[order[j] * n];
            for (size_t k = 0; k < n; ++k) (*vectors)[k * n + j] = u[k];
        }
    }
    return vals;
}

namespace {

// a * b for n x n row-major matrices (skipping zero entries of a).
std::vector<double> matmul(const std::vector<double>& a, const std::vector<double>& b, size_t n) {
    std::vector<double> out(n * n, 0.0);
    for (size_t i = 0; i < n; ++i)
        for (size_t k = 0; k < n; ++k) {
            const double v = a[i * n + k];
            if (v == 0) continue;
            const double* brow = &b[k * n];
            double* orow = &out[i * n];
            for (size_t j = 0; j < n; ++j) orow[j] += v * brow[j];
        }
    return out;
}

// m = (m + m^T) / 2, in place.
void symmetrise(std::vector<double>& m, size_t n) {
    for (size_t r = 0; r < n; ++r)
        for (size_t c = r + 1; c < n; ++c) {
            const double v = 0.5 * (m[r * n + c] + m[c * n + r]);
            m[r * n + c] = m[c * n + r] = v;
        }
}

}  // namespace

std::vector<double> sqrt_psd(const std::vector<double>& a, size_t n) {
    std::vector<double> W;
    const std::vector<double> d = eigen_core(a, n, true, W);
    const double zero = numerical_zero(d);
    std::vector<double> out(n * n, 0.0);
    for (size_t j = 0; j < n; ++j) {
        if (d[j] <= zero) continue;
        const double s = std::sqrt(d[j]);
        const double* u = &W[j * n];  // eigenvector j
        for (size_t r = 0; r < n; ++r) {
            const double ur = s * u[r];
            if (ur == 0) continue;
            double* row = &out[r * n];
            for (size_t c = 0; c < n; ++c) row[c] += ur * u[c];
        }
    }
    symmetrise(out, n);  // away rounding
    return out;
}

double frechet_distance(const Gaussian& a, const Gaussian& b) {
    if (a.dim != b.dim) throw Error("FID: feature dimensions differ (" + std::to_string(a.dim) + " vs " +
                                    std::to_string(b.dim) + ")");
    const size_t n = a.dim;
    double diff = 0, tr1 = 0, tr2 = 0;
    for (size_t i = 0; i < n; ++i) {
        const double d = a.mean[i] - b.mean[i];
        diff += d * d;
        tr1 += a.cov[i * n + i];
        tr2 += b.cov[i * n + i];
    }
    const auto R = sqrt_psd(a.cov, n);
    // M = R * S2 * R (symmetric PSD): T = R*S2, then M = T*R.
    std::vector<double> M = matmul(matmul(R, b.cov, n), R, n);
    symmetrise(M, n);
    const auto vals = symmetric_eigen(M, n, nullptr);
    const double zero = numerical_zero(vals);
    double trsqrt = 0;
    for (double v : vals)
        if (v > zero) trsqrt += std::sqrt(v);
    return diff + tr1 + tr2 - 2.0 * trsqrt;
}

MeanStd mean_std(const std::vector<double>& v) {
    MeanStd r;
    if (v.empty()) return r;
    double s = 0;
    for (double x : v) s += x;
    r.mean = s / static_cast<double>(v.size());
    double q = 0;
    for (double x : v) q += (x - r.mean) * (x - r.mean);
    r.std = std::sqrt(q / static_cast<double>(v.size()));
    return r;
}

}  // namespace scvae
