// dist.cpp - data-parallel training over c10d: ProcessGroupGloo on CPU, TCPStore rendezvous.
// Debian's libtorch 1.13 is built with gloo (the symbols live in libtorch_cpu.so); its header hides the class
// unless USE_C10D_GLOO is defined, and needs the gloo headers (libgloo-dev).
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "scvae/error.h"
#include "train/dist.h"

namespace scvae {

struct DistGroup::Impl {
    c10::intrusive_ptr<c10d::Store> store;
    c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
};

DistGroup::DistGroup(const DistConfig& cfg) : cfg_(cfg), impl_(std::make_unique<Impl>()) {
    if (cfg.world_size <= 1) return;
    const std::string where = cfg.master_addr + ":" + std::to_string(cfg.master_port);
    try {
        c10d::TCPStoreOptions so;
        so.port = static_cast<uint16_t>(cfg.master_port);
        so.isServer = cfg.rank == 0;
        so.numWorkers = static_cast<size_t>(cfg.world_size);
        so.waitWorkers = true;
        so.timeout = std::chrono::seconds(cfg.timeout_s);
        auto tcp = c10::make_intrusive<c10d::TCPStore>(cfg.master_addr, so);
        impl_->store = c10::make_intrusive<c10d::PrefixStore>("scvae-train", tcp);
        auto opts = c10d::ProcessGroupGloo::Options::create(std::chrono::seconds(cfg.timeout_s));
        // The transport binds to the address this host resolves for the master's route; on one machine
        // (loopback) that is 127.0.0.1.
        const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
        if (ifname && *ifname)
            opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
        else if (cfg.master_addr == "127.0.0.1" || cfg.master_addr == "localhost")
            opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
        else
            opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
        opts->threads = 2;
        impl_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, cfg.rank, cfg.world_size, opts);
    } catch (const std::exception& e) {
        std::string msg = e.what();
        auto nl = msg.find('\n');
        if (nl != std::string::npos) msg.resize(nl);
        throw Error("rank " + std::to_string(cfg.rank) + "/" + std::to_string(cfg.world_size) +
                    ": rendezvous at " + where + " failed: " + msg);
    }
}

DistGroup::~DistGroup() = default;

void DistGroup::average_gradients(const std::vector<torch::Tensor>& params) {
    if (!active()) return;
    torch::NoGradGuard ng;
    std::vector<std::vector<torch::Tensor>> buckets(1);
    size_t bytes = 0;
    for (const auto& p : params) {
        if (!p.requires_grad()) continue;
        if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
        size_t b = static_cast<size_t>(p.numel()) * 4;
        if (bytes > 0 && bytes + b > cfg_.bucket_bytes) {
            buckets.emplace_back();
            bytes = 0;
        }
        buckets.back().push_back(p.grad());
        bytes += b;
    }
    std::vector<torch::Tensor> flats;
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    for (auto& bucket : buckets) {
        if (bucket.empty()) continue;
        std::vector<torch::Tensor> views;
        for (auto& g : bucket) views.push_back(g.reshape({-1}));
        std::vector<torch::Tensor> one{torch::cat(views)};
        works.push_back(impl_->pg->allreduce(one));
        flats.push_back(one[0]);
    }
    size_t fi = 0;
    for (auto& bucket : buckets) {
        if (bucket.empty()) continue;
        works[fi]->wait();
        auto flat = flats[fi++].div_(static_cast<double>(cfg_.world_size));
        int64_t off = 0;
        for (auto& g : bucket) {
            g.copy_(flat.narrow(0, off, g.numel()).view_as(g));
            off += g.numel();
        }
    }
}

void DistGroup::average(const std::vector<torch::Tensor>& tensors) {
    if (!active()) return;
    torch::NoGradGuard ng;
    for (const auto& t : tensors) {
        std::vector<torch::Tensor> one{t.detach()};
        impl_->pg->allreduce(one)->wait();
        t.detach().div_(static_cast<double>(cfg_.world_size));
    }
}

void DistGroup::broadcast(const std::vector<torch::Tensor>& tensors) {
    if (!active()) return;
    torch::NoGradGuard ng;
    for (const auto& t : tensors) {
        std::vector<torch::Tensor> one{t.detach()};
        impl_->pg->broadcast(one)->wait();
    }
}

std::vector<double> DistGroup::sum(const std::vector<double>& values) {
    if (!active() || values.empty()) return values;
    auto t = torch::tensor(values, torch::kFloat64);
    std::vector<torch::Tensor> one{t};
    impl_->pg->allreduce(one)->wait();
    return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

void DistGroup::barrier() {
    if (!active()) return;
    impl_->pg->barrier()->wait();
}

}  // namespace scvae
