// bench_e2e - the tools as users run them: whole processes, default flags, real photos; against the compute
// floor measured in the same run.
//
//   build/bench/bench_e2e [--bin DIR] [--model FILE] [--photos DIR] [--images N] [--sizes 256,512]
//                         [--train-size 256] [--train-batch 4] [--train-steps 4] [--crop-size 128]
//                         [--stream N] [--repeat N] [--skip-train] [--json FILE]
//
// Inputs: the sample photos (examples/photos), resized to S x S (bilinear) and saved as JPEG, cycled to N files.
// For each size S it runs, as child processes with the default flags (wall time, user/sys CPU and peak RSS from
// wait4):
//   encode   scvae-encode -m MODEL -o codes.scv IMAGES...
//   decode   scvae-decode -m MODEL -o 'out/{stem}.png' codes.scv
//   segment  scvae-segment -m MODEL --method spectral -o 'seg/{stem}.png' IMAGES...
// --repeat times each (default 3), and reports the run of median wall time: its wall time per image, the
// kernel's share of the CPU time, peak RSS, and the ratio to the
// compute floor: the same model's networks in this process (the tools' thread count, batch 1, preallocated
// input, warm), encoder + LISTA for encode, D z + decoder for decode, by LibTorch and by the torch-free engine
// the tools run (lib/src/infer/): the faster of the two.
// Training: scvae-train on S x S crops of the same photos, batch --train-batch, default layout; the time of a
// step is the wall-time difference between a run of 2 + steps and a run of 2 steps (start-up and data loading
// cancel), against the floor of forward + backward + Adam step in this process with the tools' threads.
// And the layouts on --crop-size crops (batch 8): the default (local ranks) against one process with -t 1.
// --stream N encodes and decodes N images (cycled files) to compare peak RSS with the N-image run above.
// Everything printed is also written as one JSON document with --json.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scvae/image.h"
#include "scvae/io.h"
#include "scvae/model.h"
#include "model/networks.h"

extern char** environ;

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using scvae::Image;

namespace {

struct Args {
    std::string bin = "build/bin", model = "models/default.scvm", photos = "examples/photos", json;
    int images = 16;
    std::vector<int> sizes = {256, 512};
    int train_size = 256, train_batch = 4, train_steps = 4, crop_size = 128, stream = 0, repeat = 3;
    bool skip_train = false;
};

struct Proc {
    double wall = 0, user = 0, sys = 0, rss_mib = 0;
    int status = 0;
};

double secs(Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); }

// Linux carries a process's peak RSS across execve into its children's accounting (and vfork children share
// the parent's memory), so a tool spawned from this process, once it holds a model, would report at least this
// process's peak. The tools are therefore started by a small spawner process forked at the start of main(),
// before anything large is loaded: it reads a command (NUL-separated arguments, then an empty one) from a
// pipe, runs it, and writes back the wait4 status and rusage.
int g_to_spawner = -1, g_from_spawner = -1;

Proc run_here(const std::vector<std::string>& argv, const std::string& log);

void spawner_loop(int in, int out) {
    FILE* f = fdopen(in, "rb");
    while (true) {
        std::vector<std::string> args;
        std::string cur;
        int c;
        bool eof = false;
        while (true) {
            c = std::fgetc(f);
            if (c == EOF) {
                eof = true;
                break;
            }
            if (c != 0) {
                cur.push_back(char(c));
                continue;
            }
            if (cur.empty()) break;  // end of the command
            args.push_back(cur);
            cur.clear();
        }
        if (eof) _exit(0);
        std::string log = args.back();
        args.pop_back();
        Proc p = run_here(args, log);
        if (write(out, &p, sizeof p) != ssize_t(sizeof p)) _exit(1);
    }
}

void start_spawner() {
    int a[2], b[2];
    if (pipe(a) != 0 || pipe(b) != 0) {
        std::perror("pipe");
        std::exit(1);
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(a[1]);
        close(b[0]);
        spawner_loop(a[0], b[1]);
    }
    close(a[0]);
    close(b[1]);
    g_to_spawner = a[1];
    g_from_spawner = b[0];
}

// Runs argv with stdout and stderr to `log` (through the spawner), waits, and measures it.
Proc run(const std::vector<std::string>& argv, const std::string& log) {
    std::string msg;
    for (const auto& s : argv) msg += s + std::string(1, '\0');
    msg += log + std::string(1, '\0') + std::string(1, '\0');
    if (write(g_to_spawner, msg.data(), msg.size()) != ssize_t(msg.size())) {
        std::perror("spawner");
        std::exit(1);
    }
    Proc p;
    if (read(g_from_spawner, &p, sizeof p) != ssize_t(sizeof p)) {
        std::fprintf(stderr, "bench_e2e: the spawner died\n");
        std::exit(1);
    }
    if (!WIFEXITED(p.status) || WEXITSTATUS(p.status) != 0) {
        std::fprintf(stderr, "bench_e2e: %s failed (status %d); log: %s\n", argv[0].c_str(), p.status, log.c_str());
        std::exit(1);
    }
    return p;
}

// The run of median wall time among `n` runs of the same command. On a virtual machine the first touch of memory
// the host has taken back costs the next process up to 0.3 s of kernel time at random (the same encode of 16
// images: 0.01-0.31 s sys), so one run per tool made the kernel shares of a table mostly chance.
Proc run_median(const std::vector<std::string>& argv, const std::string& log, int n) {
    std::vector<Proc> runs;
    for (int i = 0; i < n; ++i) runs.push_back(run(argv, log));
    std::sort(runs.begin(), runs.end(), [](const Proc& x, const Proc& y) { return x.wall < y.wall; });
    return runs[runs.size() / 2];
}

Proc run_here(const std::vector<std::string>& argv, const std::string& log) {
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    auto t0 = Clock::now();
    if (posix_spawn(&pid, a[0], &fa, nullptr, a.data(), environ) != 0) {
        std::perror(a[0]);
        std::exit(1);
    }
    posix_spawn_file_actions_destroy(&fa);
    Proc p;
    struct rusage ru {};
    if (wait4(pid, &p.status, 0, &ru) < 0) std::perror("wait4");
    p.wall = secs(t0);
    p.user = double(ru.ru_utime.tv_sec) + ru.ru_utime.tv_usec / 1e6;
    p.sys = double(ru.ru_stime.tv_sec) + ru.ru_stime.tv_usec / 1e6;
    p.rss_mib = double(ru.ru_maxrss) / 1024.0;
    return p;
}

std::vector<int> parse_sizes(const std::string& s) {
    std::vector<int> v;
    std::stringstream ss(s);
    std::string t;
    while (std::getline(ss, t, ',')) v.push_back(std::stoi(t));
    return v;
}

// N JPEG files of S x S from the sample photos (cycled).
std::vector<std::string> make_images(const Args& a, const std::string& dir, int size, int n) {
    std::vector<std::string> srcs;
    for (const auto& e : fs::directory_iterator(a.photos)) {
        auto ext = e.path().extension().string();
        if (ext == ".jpg" || ext == ".png") srcs.push_back(e.path().string());
    }
    std::sort(srcs.begin(), srcs.end());
    if (srcs.empty()) {
        std::fprintf(stderr, "bench_e2e: no photos in %s\n", a.photos.c_str());
        std::exit(1);
    }
    fs::create_directories(dir);
    std::vector<std::vector<uint8_t>> jpegs;
    for (const auto& s : srcs) {
        Image img = scvae::to_rgb(scvae::read_image(s));
        int side = std::min(img.width, img.height);
        img = scvae::crop(img, (img.width - side) / 2, (img.height - side) / 2, side, side);
        jpegs.push_back(scvae::encode_image(scvae::resize_bilinear(img, size, size), scvae::ImageFormat::JPEG));
    }
    std::vector<std::string> files;
    for (int i = 0; i < n; ++i) {
        char name[64];
        std::snprintf(name, sizeof name, "/img%04d.jpg", i);
        std::string p = dir + name;
        const auto& j = jpegs[size_t(i) % jpegs.size()];
        std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(j.data()), std::streamsize(j.size()));
        files.push_back(p);
    }
    return files;
}

nlohmann::json proc_json(const Proc& p, int images) {
    double cpu = p.user + p.sys;
    return {{"wall_s", p.wall}, {"user_s", p.user}, {"sys_s", p.sys}, {"peak_rss_mib", p.rss_mib},
            {"wall_per_image_s", p.wall / images}, {"sys_share", cpu > 0 ? p.sys / cpu : 0.0}};
}

void print_proc(const char* what, int size, const Proc& p, int images, double floor_per_image) {
    double cpu = p.user + p.sys;
    std::printf("%-8s %4d px: %6.3f s/image wall (%6.2f s for %d), user %6.2f s, sys %5.2f s (%4.1f %%), peak RSS %6.0f MiB",
                what, size, p.wall / images, p.wall, images, p.user, p.sys, cpu > 0 ? 100 * p.sys / cpu : 0.0, p.rss_mib);
    if (floor_per_image > 0) std::printf(", %.2fx the compute floor", p.wall / images / floor_per_image);
    std::printf("\n");
    std::fflush(stdout);
}

struct Floor {
    double encode = 0, decode = 0;                // the faster of the two below, per image
    double torch_encode = 0, torch_decode = 0;    // the LibTorch networks
    double engine_encode = 0, engine_decode = 0;  // the torch-free engine (what encode, decode and segment run)
};

// The networks alone, in this process: batch 1, warm, preallocated input; by LibTorch and by the torch-free
// engine of lib/src/infer/ on the same weights. The floor is the faster of the two.
Floor compute_floor(scvae::Codec& codec, const std::string& image, int reps) {
    c10::InferenceMode guard;
    auto& net = codec.impl().net;
    const scvae::ModelConfig& cfg = codec.config();
    Image img = scvae::to_rgb(scvae::read_image(image));
    torch::Tensor x = scvae::image_to_tensor(img);
    torch::Tensor z = net->encode_codes(x);  // warm-up
    net->decode_codes(z);
    Floor f;
    auto t0 = Clock::now();
    for (int i = 0; i < reps; ++i) z = net->encode_codes(x);
    f.torch_encode = secs(t0) / reps;
    t0 = Clock::now();
    for (int i = 0; i < reps; ++i) net->decode_codes(z);
    f.torch_decode = secs(t0) / reps;

    scvae::infer::Network engine(cfg, scvae::tensor_source(net));
    torch::Tensor xh = x.permute({0, 2, 3, 1}).contiguous();
    const int H = static_cast<int>(x.size(2)), W = static_cast<int>(x.size(3)), f8 = cfg.factor();
    torch::Tensor codes = torch::empty({H / f8, W / f8, cfg.K});
    torch::Tensor rows = torch::from_blob(const_cast<float*>(engine.atom_rows().data()), {cfg.K, cfg.n});
    torch::Tensor out = torch::empty({H, W, 3});
    auto engine_decode = [&]() {
        torch::Tensor latent = codes.reshape({-1, cfg.K}).matmul(rows).contiguous();  // D z
        engine.decode_latent(latent.data_ptr<float>(), 1, H / f8, W / f8, out.data_ptr<float>());
    };
    engine.encode(xh.data_ptr<float>(), 1, H, W, codes.data_ptr<float>());  // warm-up
    engine_decode();
    t0 = Clock::now();
    for (int i = 0; i < reps; ++i) engine.encode(xh.data_ptr<float>(), 1, H, W, codes.data_ptr<float>());
    f.engine_encode = secs(t0) / reps;
    t0 = Clock::now();
    for (int i = 0; i < reps; ++i) engine_decode();
    f.engine_decode = secs(t0) / reps;
    f.encode = std::min(f.torch_encode, f.engine_encode);
    f.decode = std::min(f.torch_decode, f.engine_decode);
    return f;
}

// Seconds of one training step (forward, loss, backward, Adam) at batch b of S x S crops, in this process.
double train_floor(const std::string& model, int size, int batch, int reps) {
    scvae::Codec codec = scvae::Codec::load(model);
    auto net = codec.impl().net;
    net->train();
    torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-5));
    torch::manual_seed(1);
    auto x = torch::rand({batch, 3, size, size}) * 2 - 1;
    auto step = [&]() {
        auto out = net->forward(x);
        auto l = scvae::scvae_loss(out, x, 0.05);
        opt.zero_grad();
        l.total.backward();
        opt.step();
    };
    step();
    auto t0 = Clock::now();
    for (int i = 0; i < reps; ++i) step();
    return secs(t0) / reps;
}

}  // namespace

int main(int argc, char** argv) {
    start_spawner();  // first, while this process is small
    Args a;
    for (int i = 1; i < argc; ++i) {
        std::string s = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "bench_e2e: %s needs a value\n", s.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (s == "--bin") a.bin = next();
        else if (s == "--model") a.model = next();
        else if (s == "--photos") a.photos = next();
        else if (s == "--images") a.images = std::stoi(next());
        else if (s == "--sizes") a.sizes = parse_sizes(next());
        else if (s == "--train-size") a.train_size = std::stoi(next());
        else if (s == "--train-batch") a.train_batch = std::stoi(next());
        else if (s == "--train-steps") a.train_steps = std::stoi(next());
        else if (s == "--crop-size") a.crop_size = std::stoi(next());
        else if (s == "--stream") a.stream = std::stoi(next());
        else if (s == "--repeat") a.repeat = std::max(1, std::stoi(next()));
        else if (s == "--skip-train") a.skip_train = true;
        else if (s == "--json") a.json = next();
        else {
            std::fprintf(stderr,
                         "usage: bench_e2e [--bin DIR] [--model FILE] [--photos DIR] [--images N] [--sizes 256,512] "
                         "[--train-size S] [--train-batch B] [--train-steps N] [--crop-size S] [--stream N] "
                         "[--repeat N] [--skip-train] [--json FILE]\n");
            return 2;
        }
    }
    a.bin = fs::absolute(a.bin).string();
    a.model = fs::absolute(a.model).string();
    char tmpl[] = "/tmp/bench_e2e.XXXXXX";
    std::string tmp = mkdtemp(tmpl);
    const std::string log = tmp + "/tools.log";
    const int threads = scvae::available_cpus();
    scvae::set_threads(0);  // the tools' default: every CPU
    nlohmann::json J = {{"cpus", threads}, {"model", a.model}, {"images", a.images}};
    std::printf("bench_e2e: %d CPUs, model %s, %d images per size; tools with default flags\n", threads,
                a.model.c_str(), a.images);

    scvae::Codec codec = scvae::Codec::load(a.model);
    for (int size : a.sizes) {
        const std::string dir = tmp + "/" + std::to_string(size);
        std::vector<std::string> files = make_images(a, dir + "/in", size, a.images);
        Floor f = compute_floor(codec, files[0], std::max(3, std::min(a.images, 8)));
        std::printf("floor    %4d px: encoder+LISTA %.3f s, D z + decoder %.3f s per image (in process, batch 1; "
                    "LibTorch %.3f and %.3f s, torch-free engine %.3f and %.3f s)\n",
                    size, f.encode, f.decode, f.torch_encode, f.torch_decode, f.engine_encode, f.engine_decode);
        std::vector<std::string> enc = {a.bin + "/scvae-encode", "-m", a.model, "-o", dir + "/codes.scv"};
        enc.insert(enc.end(), files.begin(), files.end());
        Proc pe = run_median(enc, log, a.repeat);
        print_proc("encode", size, pe, a.images, f.encode);
        fs::create_directories(dir + "/out");
        Proc pd = run_median({a.bin + "/scvae-decode", "-m", a.model, "-o", dir + "/out/{stem}.png", dir + "/codes.scv"},
                             log, a.repeat);
        print_proc("decode", size, pd, a.images, f.decode);
        std::printf("enc+dec  %4d px: %6.3f s/image wall, %.2fx the compute floor\n", size,
                    (pe.wall + pd.wall) / a.images, (pe.wall + pd.wall) / a.images / (f.encode + f.decode));
        fs::create_directories(dir + "/seg");
        std::vector<std::string> seg = {a.bin + "/scvae-segment", "-m", a.model, "--method", "spectral", "-o",
                                        dir + "/seg/{stem}.png"};
        seg.insert(seg.end(), files.begin(), files.end());
        Proc ps = run_median(seg, log, a.repeat);
        print_proc("segment", size, ps, a.images, f.encode);
        J["sizes"][std::to_string(size)] = {
            {"floor", {{"encode_s", f.encode}, {"decode_s", f.decode}, {"torch_encode_s", f.torch_encode},
                       {"torch_decode_s", f.torch_decode}, {"engine_encode_s", f.engine_encode},
                       {"engine_decode_s", f.engine_decode}}},
            {"encode", proc_json(pe, a.images)},
            {"decode", proc_json(pd, a.images)},
            {"segment", proc_json(ps, a.images)},
            {"encode_floor_ratio", pe.wall / a.images / f.encode},
            {"decode_floor_ratio", pd.wall / a.images / f.decode},
            {"encode_decode_floor_ratio", (pe.wall + pd.wall) / a.images / (f.encode + f.decode)}};
        if (a.stream > 0 && size == a.sizes.front()) {
            std::vector<std::string> many;
            for (int i = 0; i < a.stream; ++i) many.push_back(files[size_t(i) % files.size()]);
            std::vector<std::string> e2 = {a.bin + "/scvae-encode", "-m", a.model, "-o", dir + "/many.scv"};
            e2.insert(e2.end(), many.begin(), many.end());
            Proc pe2 = run(e2, log);
            print_proc("encode", size, pe2, a.stream, 0);
            fs::create_directories(dir + "/many");
            Proc pd2 = run({a.bin + "/scvae-decode", "-m", a.model, "-o", dir + "/many/{index}.png", dir + "/many.scv"}, log);
            print_proc("decode", size, pd2, a.stream, 0);
            std::printf("stream   %4d px: peak RSS %d -> %d images: encode %.2fx, decode %.2fx\n", size, a.images,
                        a.stream, pe2.rss_mib / pe.rss_mib, pd2.rss_mib / pd.rss_mib);
            J["stream"] = {{"images", a.stream}, {"encode", proc_json(pe2, a.stream)}, {"decode", proc_json(pd2, a.stream)},
                           {"encode_rss_ratio", pe2.rss_mib / pe.rss_mib}, {"decode_rss_ratio", pd2.rss_mib / pd.rss_mib}};
        }
    }

    if (!a.skip_train) {
        const std::string dir = tmp + "/train";
        std::vector<std::string> files = make_images(a, dir + "/in", std::max(a.train_size, a.crop_size), a.images);
        auto train = [&](const std::string& run_dir, int size, int batch, int steps, const std::vector<std::string>& extra) {
            std::vector<std::string> t = {a.bin + "/scvae-train", "-q", "-o", run_dir, "--init", a.model, "--size",
                                          std::to_string(size), "-b", std::to_string(batch), "--steps",
                                          std::to_string(steps), "--val-fraction", "0", "--lr", "1e-5"};
            t.insert(t.end(), extra.begin(), extra.end());
            t.push_back(dir + "/in");
            return run(t, log);
        };
        // a step at train_size: (2 + steps) - 2 steps
        Proc t0 = train(dir + "/a", a.train_size, a.train_batch, 2, {});
        Proc t1 = train(dir + "/b", a.train_size, a.train_batch, 2 + a.train_steps, {});
        double step = (t1.wall - t0.wall) / a.train_steps;
        double floor2 = train_floor(a.model, a.train_size, a.train_batch, 3);
        std::printf("train    %4d px: %.2f s per step of %d (%.2f images/s), peak RSS %.0f MiB; floor (one process, "
                    "%d threads, in process) %.2f s: %.2fx\n",
                    a.train_size, step, a.train_batch, a.train_batch / step, t1.rss_mib, threads, floor2, step / floor2);
        J["train"] = {{"size", a.train_size}, {"batch", a.train_batch}, {"step_s", step},
                      {"images_per_s", a.train_batch / step}, {"floor_step_s", floor2}, {"floor_ratio", step / floor2},
                      {"run", proc_json(t1, 1)}};
        // layouts at crop_size, batch 8: default against -t 1
        const int b = 8;
        Proc d0 = train(dir + "/c", a.crop_size, b, 2, {});
        Proc d1 = train(dir + "/d", a.crop_size, b, 2 + a.train_steps * 2, {});
        Proc s0 = train(dir + "/e", a.crop_size, b, 2, {"-t", "1"});
        Proc s1 = train(dir + "/f", a.crop_size, b, 2 + a.train_steps * 2, {"-t", "1"});
        double ips_default = b * a.train_steps * 2 / (d1.wall - d0.wall);
        double ips_t1 = b * a.train_steps * 2 / (s1.wall - s0.wall);
        std::printf("train    %4d px, batch %d: default layout %.2f images/s, -t 1 %.2f images/s: %.2fx\n", a.crop_size,
                    b, ips_default, ips_t1, ips_default / ips_t1);
        J["train_layout"] = {{"size", a.crop_size}, {"batch", b}, {"default_images_per_s", ips_default},
                             {"t1_images_per_s", ips_t1}, {"ratio", ips_default / ips_t1}};
    }
    if (!a.json.empty()) std::ofstream(a.json) << J.dump(2) << "\n";
    fs::remove_all(tmp);
    return 0;
}
