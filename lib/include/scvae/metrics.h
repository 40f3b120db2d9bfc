// scvae/metrics.h - image quality, code statistics, mask overlap and the Fréchet distance.
//
// Conventions (man/scvae-metrics.1 says the same):
//  * Images are scvae::Image (float [0,1]); every full-reference metric works on the 8-bit scale, value*255,
//    computed in double precision. Both images of a pair must have the same width, height and channels.
//  * MSE is on the 0..255 scale; PSNR = 10 log10(255^2 / MSE), reported as kPsnrIdentical (100 dB) for
//    identical images so that averages and JSON stay finite.
//  * SSIM is the common reference (Wang et al. 2004 as scikit-image computes it with gaussian_weights=True,
//    sigma=1.5, use_sample_covariance=False, data_range=255): 11-tap Gaussian (sigma 1.5, truncate 3.5),
//    'reflect' (half-sample symmetric) borders, K1=0.01, K2=0.03, mean of the SSIM map after cropping a
//    5-pixel border, averaged over channels. Images must be at least 11x11.
//  * MS-SSIM: weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), 2x2 average downsampling (an odd last
//    row/column is dropped), mean contrast-structure at scales 1..M-1 and mean SSIM at scale M, each clamped
//    at 0 before the power. M = 5 when min(width,height) >= 11*16; smaller images use the largest M whose
//    coarsest scale is still >= 11 pixels, with the first M weights renormalised to sum to 1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "scvae/codes.h"
#include "scvae/image.h"

namespace scvae {

constexpr double kPsnrIdentical = 100.0;
constexpr int kSsimWindow = 11;

// Throws Error("<what>: images differ in size (WxHxC vs WxHxC)") unless a and b have equal shapes.
void check_same_shape(const Image& a, const Image& b, const std::string& what);

double mse(const Image& a, const Image& b);
double psnr_from_mse(double mse);
double psnr(const Image& a, const Image& b);
double ssim(const Image& a, const Image& b);
// `scales_used` (optional) receives M.
double ms_ssim(const Image& a, const Image& b, int* scales_used = nullptr);
// Number of MS-SSIM scales for an image of this size (0 when smaller than 11x11).
int ms_ssim_scales(int width, int height);

// Mean SSIM and mean contrast-structure term of one channel (8-bit scale values, row-major h x w).
struct SsimParts {
    double ssim = 0, cs = 0;
};
SsimParts ssim_channel(const double* x, const double* y, int width, int height);

// ---- sparse-code statistics ----

// Hoyer sparsity of one vector: (sqrt(K) - ||z||_1/||z||_2) / (sqrt(K) - 1), in [0,1]; 1 = one non-zero,
// 0 = all entries equal in magnitude. A zero vector counts as 1 (maximally sparse). K = 1 gives 1.
double hoyer_sparsity(const float* z, size_t K);

// Entropy in bits of a usage histogram normalised to sum 1 (0 for an empty or one-bin histogram).
double histogram_entropy_bits(const std::vector<uint64_t>& counts);

struct CodeStats {
    uint64_t records = 0;
    uint64_t vectors = 0;  // code vectors (grid positions) over all records
    uint32_t K = 0;
    std::string fingerprint;
    double hoyer_mean = 0, hoyer_std = 0;  // over all code vectors (Table 3's "Sparsity")
    double zero_fraction = 0;              // zero entries / (vectors*K)
    double nnz_per_vector = 0;             // mean non-zeros per code vector
    uint64_t atoms_used = 0;               // atoms non-zero in at least one vector
    uint64_t dead_atoms = 0;               // K - atoms_used
    double atom_entropy_bits = 0;          // entropy of atom_histogram / its sum (0 .. log2 K); 2^H is the
                                           // "effective number" of atoms (the histogram's perplexity)
    std::vector<uint64_t> atom_histogram;  // K entries: code vectors in which atom k is non-zero
    uint64_t bytes = 0;                    // stream bytes as written
    uint64_t pixels = 0;                   // original pixels (image_width*image_height), summed
    double bpp = 0;                        // bytes*8 / pixels
};

// Per-record numbers (also used for the per-record list of `scvae-metrics --codes`).
struct RecordStats {
    std::string source;
    uint64_t vectors = 0;
    double hoyer = 0;           // mean Hoyer sparsity over the record's vectors
    double nnz_per_vector = 0;
    uint64_t bytes = 0;
    double bpp = 0;
};

class CodeStatsAccumulator {
public:
    // Adds one record; `bytes` is its size in the stream. Throws Error if K/fingerprint differ from the
    // records before ("records of different models in one statistic").
    RecordStats add(const CodeRecord& rec, uint64_t bytes);
    CodeStats result() const;

private:
    CodeStats s_;
    double hoyer_sum_ = 0, hoyer_sq_ = 0;
    uint64_t nnz_ = 0;
};

// ---- masks (supplement 7.2) ----

// Binary mask: both masks are resized to `size` x `size` with nearest neighbour (source pixel
// floor((i+0.5)*in/out)); a pixel is foreground when round(255*mean of its colour channels) >= 128
// (alpha ignored).
std::vector<uint8_t> binary_mask(const Image& m, int size = 128);
struct MaskScores {
    double iou = 0, dice = 0;
};
// IoU = |A∩B|/|A∪B|, Dice = 2|A∩B|/(|A|+|B|); both 1 when both masks are empty.
MaskScores mask_scores(const Image& pred, const Image& truth, int size = 128);

// ---- Fréchet distance (FID) ----

// Mean and covariance (N-1 normalisation, as numpy.cov) of N feature rows of dimension D (row-major N x D).
struct Gaussian {
    std::vector<double> mean;  // D
    std::vector<double> cov;   // D x D row-major
    size_t dim = 0;
};
Gaussian feature_statistics(const std::vector<double>& features, size_t n, size_t dim);

// ||mu1-mu2||^2 + tr(S1) + tr(S2) - 2 tr( (sqrt(S1) S2 sqrt(S1))^(1/2) ), all in double precision with
// symmetric eigendecompositions (negative eigenvalues from rounding are clamped to 0). Equal to the
// tr(sqrtm(S1 S2)) form of pytorch-fid for covariance matrices.
double frechet_distance(const Gaussian& a, const Gaussian& b);

// Symmetric eigendecomposition (Householder tridiagonalisation + implicit QL), double precision.
// a: n x n row-major symmetric; returns eigenvalues ascending; vectors (optional) column j = eigenvector j.
std::vector<double> symmetric_eigen(const std::vector<double>& a, size_t n, std::vector<double>* vectors);
// Principal square root of a symmetric positive semi-definite matrix (negative eigenvalues clamped to 0).
std::vector<double> sqrt_psd(const std::vector<double>& a, size_t n);

// ---- aggregation ----
struct MeanStd {
    double mean = 0, std = 0;  // population standard deviation
};
MeanStd mean_std(const std::vector<double>& v);

}  // namespace scvae
