// worker_pool.h - image-level parallelism for the tools that run the network per image (encode, decode).
#pragma once

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "scvae/io.h"
#include "scvae/model.h"

namespace scvae {

// Image-level parallelism. On a CPU, one image's convolutions at batch 1 keep two intra-op threads only partly
// busy (and their OpenMP barriers spin), while two images on two threads of one intra-op thread each run at
// nearly twice the throughput (bench/bench_e2e). Workers are started and set up (init_worker_thread) one after
// the other before any work is given; results are taken in submission order, so outputs keep input order.
class WorkerPool {
public:
    explicit WorkerPool(int workers) {
        std::mutex m;
        std::condition_variable cv;
        int ready = 0;
        for (int i = 0; i < workers; ++i) {
            threads_.emplace_back([this, &m, &cv, &ready] {
                {
                    std::unique_lock<std::mutex> lk(m);
                    init_worker_thread();
                    ++ready;
                    cv.notify_all();
                }
                loop();
            });
            std::unique_lock<std::mutex> lk(m);
            cv.wait(lk, [&] { return ready == i + 1; });
        }
    }
    ~WorkerPool() {
        {
            std::lock_guard<std::mutex> lk(mu_);
            stop_ = true;
            jobs_.clear();  // work not started is dropped (the caller stopped waiting for it)
        }
        cv_.notify_all();
        for (auto& t : threads_) t.join();
    }
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    template <class F>
    auto submit(F f) -> std::future<decltype(f())> {
        auto task = std::make_shared<std::packaged_task<decltype(f())()>>(std::move(f));
        auto fut = task->get_future();
        {
            std::lock_guard<std::mutex> lk(mu_);
            jobs_.push_back([task] { (*task)(); });
        }
        cv_.notify_one();
        return fut;
    }

private:
    void loop() {
        while (true) {
            std::function<void()> job;
            {
                std::unique_lock<std::mutex> lk(mu_);
                cv_.wait(lk, [this] { return stop_ || !jobs_.empty(); });
                if (jobs_.empty()) return;  // stopping, nothing left
                job = std::move(jobs_.front());
                jobs_.pop_front();
            }
            job();
        }
    }

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> jobs_;
    bool stop_ = false;
    std::vector<std::thread> threads_;
};

// Workers for `items` pieces of work at batch 1 on the CPU: one per thread the tool may use (--threads, else
// every CPU), at most one per item; 1 means the main thread works alone with every intra-op thread.
inline int image_workers(int threads, int batch, const std::string& device, size_t items) {
    if (batch != 1 || device != "cpu" || items < 2) return 1;
    int t = threads > 0 ? threads : available_cpus();
    return static_cast<int>(std::min<size_t>(static_cast<size_t>(std::max(1, std::min(t, 64))), items));
}

}  // namespace scvae
