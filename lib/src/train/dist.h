// dist.h - internal: data-parallel helpers over LibTorch's c10d (ProcessGroupGloo + TCPStore).
// The c10d and gloo headers stay inside dist.cpp; this header needs only torch/torch.h.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace scvae {

struct DistConfig {
    int world_size = 1;
    int rank = 0;
    std::string master_addr = "127.0.0.1";
    int master_port = 29500;
    int timeout_s = 300;
    size_t bucket_bytes = 25u << 20;
};

// A process group; with world_size 1 every operation is a no-op (nothing is opened).
class DistGroup {
public:
    // Rendezvous: rank 0 runs the TCPStore server on master_addr:master_port, the others connect; then a
    // ProcessGroupGloo over TCP on the host's interface. Throws Error with the reason on failure/timeout.
    explicit DistGroup(const DistConfig& cfg);
    ~DistGroup();
    int rank() const { return cfg_.rank; }
    int world_size() const { return cfg_.world_size; }
    bool active() const { return cfg_.world_size > 1; }
    // Averages the gradients of `params` over the ranks: flattened into buckets of about bucket_bytes, one
    // all-reduce (sum) per bucket, all buckets in flight together, then divided by world_size and copied back.
    // Parameters without a gradient are given a zero gradient first, so every rank sends the same layout.
    void average_gradients(const std::vector<torch::Tensor>& params);
    // Replaces each tensor by its mean over the ranks, in place (statistics such as a VQ codebook's EMA counts).
    void average(const std::vector<torch::Tensor>& tensors);
    // Copies rank 0's tensors to every rank (initial weights).
    void broadcast(const std::vector<torch::Tensor>& tensors);
    // Sums a few doubles over the ranks (losses, counters).
    std::vector<double> sum(const std::vector<double>& values);
    void barrier();

private:
    struct Impl;
    DistConfig cfg_;
    std::unique_ptr<Impl> impl_;
};

}  // namespace scvae
