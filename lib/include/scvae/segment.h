// scvae/segment.h - unsupervised segmentation from sparse codes (paper section 5.4, scvae-segment).
//
// Per image, the grid's code vectors are grouped into k classes, either by k-means (FAISS) or by spectral
// clustering (Gaussian affinity between codes, its width a fraction of their median distance, normalised Laplacian, its leading eigenvectors by subspace
// iteration or LAPACK dsyevr, row-normalised, k-means on the rows). Boundary connectivity (Zhu et al. 2014)
//     BndCon(c) = |{grid cells of class c on the grid border}| / sqrt(|{grid cells of class c}|)
// then separates background from foreground:
//     the class with the highest BndCon is background and the class with the lowest BndCon is foreground
//     (so k=2 always splits into one of each); every other class is background when its BndCon exceeds
//     `bndcon_threshold` (default sqrt(2 ln 2) = 1.1774, where Zhu's background probability
//     1 - exp(-BndCon^2 / 2) reaches 1/2), otherwise foreground. Empty classes are background.
// Classes are renumbered by decreasing BndCon (class 0 is the most background-like; ties by size, then by the
// clusterer's order), so label maps are reproducible and comparable between images.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scvae/cluster.h"
#include "scvae/codes.h"
#include "scvae/image.h"

namespace scvae {

enum class SegmentMethod { KMeans, Spectral };
SegmentMethod parse_segment_method(const std::string& s);  // "kmeans" | "spectral"; throws InvalidArgument
std::string to_string(SegmentMethod m);

constexpr double kDefaultBndConThreshold = 1.1774100225154747;  // sqrt(2 ln 2)

// Spectral clustering's Gaussian width as a fraction of the median pairwise distance (scvae-segment --bandwidth).
// 0.25 rather than 1: on the composite foreground sets of examples/segment.mk (seeds 1 and 2, 60 images each) it
// raised the k=2 IoU from 0.141 to 0.230 and from 0.113 to 0.198 (k=3: 0.244 to 0.318, 0.218 to 0.276); a
// kernel as wide as the median distance links most cells to most others, so k=2 splits large background regions.
constexpr double kDefaultSpectralBandwidth = 0.25;

struct SegmentOptions {
    SegmentMethod method = SegmentMethod::KMeans;
    int k = 5;               // classes (spectral: 2 or 3)
    int iters = 25;          // k-means iterations
    int redo = 5;            // k-means restarts (best objective kept)
    uint64_t seed = 1234;
    double bndcon_threshold = kDefaultBndConThreshold;
    double bandwidth = kDefaultSpectralBandwidth;  // spectral: Gaussian width / median pairwise distance (> 0)
};

struct Segmentation {
    SegmentMethod method = SegmentMethod::KMeans;
    int k = 0;
    int grid_h = 0, grid_w = 0;
    std::vector<int> labels;           // grid_h*grid_w, row-major, values 0..k-1 (renumbered, see above)
    std::vector<size_t> class_sizes;   // k
    std::vector<double> bndcon;        // k, boundary connectivity per class
    std::vector<uint8_t> foreground;   // k, 1 = foreground class
    std::vector<uint8_t> mask;         // grid_h*grid_w, 1 = foreground
    double foreground_fraction = 0;    // of the grid cells
};

// Boundary connectivity of every class 0..k-1 of a label grid (a class with no cells gets 0).
std::vector<double> boundary_connectivity(const std::vector<int>& labels, int grid_h, int grid_w, int k);

// Background/foreground per class by the rule above (1 = foreground); sizes = cells per class.
std::vector<uint8_t> foreground_classes(const std::vector<double>& bndcon, const std::vector<size_t>& sizes,
                                        double threshold = kDefaultBndConThreshold);

// Renumbers labels by decreasing BndCon and fills sizes, BndCon, foreground classes and the mask.
Segmentation finish_segmentation(std::vector<int> labels, int grid_h, int grid_w, int k, SegmentMethod method,
                                 double bndcon_threshold = kDefaultBndConThreshold);

// How spectral_embedding finds the leading eigenvectors: Dense = LAPACK dsyevr on the whole n x n Laplacian
// (O(n^3): seconds and gigabytes of temporaries at n = 4096); Subspace = Chebyshev-filtered block subspace
// iteration with Rayleigh-Ritz on D^-1/2 W D^-1/2 (7-30 n x n x (dims+10) products on code grids; falls back to
// Dense when it stalls or has not converged after 300); Auto = Subspace from kSpectralSubspaceMinCells points on,
// Dense below. Both agree to about 1e-9 per eigenvector entry unless eigenvalue dims and dims+1 nearly coincide
// (bandwidths far below the default), where the eigenvectors are not unique.
enum class SpectralSolver { Auto, Dense, Subspace };
constexpr size_t kSpectralSubspaceMinCells = 1024;

// Spectral embedding of n points (rows of x, n x dim): affinity W_ij = exp(-||x_i - x_j||^2 / (2 s^2)) with
// s = bandwidth x the median of the pairwise distances (i != j; if that is 0, the mean; if that is 0 too, W = 1),
// W_ii = 0;
// L = I - D^-1/2 W D^-1/2; the eigenvectors of the `dims` smallest eigenvalues of L (float64), each row
// normalised to unit length, each eigenvector's sign fixed (largest-magnitude entry positive). Returns n x dims
// row-major. Memory: one n x n float64 matrix and half of another (lib/src/segment/spectral.cpp, BLAS/LAPACK).
// Throws Error unless bandwidth is finite and > 0. `stats`, if given, tells whether the subspace iteration gave the
// result (false: the dense path did, by choice or after the iteration gave up) and how many n x n x (dims + 10)
// products the iteration spent.
struct SpectralStats {
    bool iterated = false;
    int products = 0;
};
std::vector<float> spectral_embedding(const float* x, size_t n, size_t dim, int dims,
                                      SpectralSolver solver = SpectralSolver::Auto,
                                      double bandwidth = kDefaultSpectralBandwidth, SpectralStats* stats = nullptr);

// The record's codes as the points segment_codes clusters: positions x dim, row-major, one column per atom the
// record uses anywhere (in order of first use; dim = max(1, atoms used)).
std::vector<float> used_atom_points(const CodeRecord& rec, size_t* dim);

// Segments one record's grid (its dense codes): k-means or spectral clustering, then finish_segmentation.
// Throws Error for k < 2, or k larger than the number of grid cells.
Segmentation segment_codes(const CodeRecord& rec, const SegmentOptions& opt);

// The colour of each class 0..k-1 (k <= 256) as RGB triplets: ten distinct colours (matplotlib's tab10) for
// classes 0..9, then hues at golden-angle steps. Written as the PLTE of label-map PNGs and used by overlays.
std::vector<uint8_t> class_palette(int k);

// Images at the original size of the record (each grid cell covers 2^d x 2^d pixels of the padded image; the
// padding is cut off). Label map: 1 channel, pixel value = class / 255 (so an 8-bit PNG stores 0..k-1; written
// with WriteOptions::png_palette = class_palette(k) it is a palette PNG whose indices are the classes).
// Mask: 1 channel, 1.0 (255) foreground, 0 background.
Image label_map_image(const Segmentation& s, const CodeRecord& rec);
Image mask_image(const Segmentation& s, const CodeRecord& rec);
// The image (any channels, original size) with each class tinted by class_palette (alpha 0.45) and the
// foreground/background border drawn in white, over a legend band: one swatch per class with its number,
// "bg" or "fg" and its share of the grid cells (RGB; as wide as the image, taller by the band).
Image overlay_image(const Image& img, const Segmentation& s, const CodeRecord& rec);

// One JSON Lines summary object (source, method, k, grid, class sizes, BndCon, foreground classes, fraction).
nlohmann::json segmentation_summary(const Segmentation& s, const CodeRecord& rec, size_t index);

// The pixel-colour baseline: a record whose "code" at each grid cell is the cell's raw colours, a CELL x CELL
// patch of the image (RGB, [0,1], row-major, K = 3 * CELL^2), the image padded on the right/bottom to a multiple
// of CELL as the encoder pads (reflect; replicate where the image is smaller than the pad). CELL is a power of
// two from 1 to 64 (2^d of a model: 8 for cpu-f8). Segmenting it with segment_codes() applies the same rule to
// pixels as to codes. The record's fingerprint is "pixels" + CELL; name is its source.
CodeRecord pixel_record(const Image& img, int cell, const std::string& name);

// Adds i.i.d. Gaussian noise N(0, sigma^2) on the [0,1] scale to every colour channel (not alpha), clipped to
// [0,1]; deterministic for a given seed.
void add_gaussian_noise(Image& img, double sigma, uint64_t seed);

}  // namespace scvae
