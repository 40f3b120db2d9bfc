// scvae/perceptual.h - user-supplied TorchScript networks for LPIPS and FID (no LibTorch headers here).
//
// Conventions (man/scvae-metrics.1 shows how to export them from PyTorch):
//  * FID feature network: forward(x) with x a 1x3xHxW float32 RGB tensor in [0,1] (the network resizes and
//    normalises itself, as pytorch-fid's InceptionV3 does); returns [1, D] or [1, D, 1, 1] (D the same for
//    every image).
//  * LPIPS network: forward(x, y) with x, y 1x3xHxW float32 RGB tensors in [-1,1] (lpips.LPIPS's convention);
//    returns one number per pair: shape [], [1], [1,1] or [1,1,1,1].
// Anything else is an Error("<path>: output shape [..] ...") naming the expected shape.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "scvae/image.h"
#include "scvae/model.h"

namespace scvae {

class PerceptualNet {
public:
    enum class Kind { Features, Lpips };
    // Loads a TorchScript file (torch::jit::load); throws Error("<path>: <reason>").
    static PerceptualNet load(const std::string& path, Kind kind, Device device = Device::CPU);
    PerceptualNet(PerceptualNet&&) noexcept;
    PerceptualNet& operator=(PerceptualNet&&) noexcept;
    ~PerceptualNet();

    // Kind::Features: the feature vector of one image (converted to RGB).
    std::vector<double> features(const Image& img);
    // Kind::Lpips: the distance between two images of the same size (converted to RGB).
    double distance(const Image& a, const Image& b);

    struct Impl;

private:
    explicit PerceptualNet(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace scvae
