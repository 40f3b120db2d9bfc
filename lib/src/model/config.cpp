// config.cpp - the torch-free side of the model: ModelConfig (JSON, presets, validation),
// parse_device and default_model_path. Usable by every tool without LibTorch headers.
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <sys/stat.h>

#include "scvae/error.h"
#include "scvae/model.h"

namespace scvae {

namespace {

const std::vector<std::string> kFields = {"preset", "in_channels", "channels", "ch_mult", "num_res_blocks",
                                          "mid_attention", "attn_levels", "groups", "n", "K", "steps",
                                          "solver", "alpha", "latent", "beta", "ema_decay"};

std::string join_ints(const std::vector<int>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
    return s;
}


}  // namespace

nlohmann::json ModelConfig::to_json() const {
    nlohmann::json j = {{"preset", preset},   {"in_channels", in_channels},       {"channels", channels},
                        {"ch_mult", ch_mult}, {"num_res_blocks", num_res_blocks}, {"mid_attention", mid_attention},
                        {"attn_levels", attn_levels}, {"groups", groups}, {"n", n}, {"K", K}, {"steps", steps},
                        {"solver", solver}, {"alpha", alpha}};
    // Written for VQ models only, so that an SC model's canonical JSON (and fingerprint) is what it was
    // before the VQ latent existed.
    if (latent != "sc") {
        j["latent"] = latent;
        j["beta"] = beta;
        j["ema_decay"] = ema_decay;
    }
    return j;
}

ModelConfig ModelConfig::from_json(const nlohmann::json& j) {
    if (!j.is_object()) throw Error("model config: expected a JSON object");
    for (auto it = j.begin(); it != j.end(); ++it) {
        bool known = false;
        for (const auto& f : kFields) known = known || f == it.key();
        if (!known) throw Error("model config: unknown field '" + it.key() + "'");
    }
    ModelConfig c;
    // A known preset name is the starting point: a config may name a preset and change a few fields.
    if (j.contains("preset")) {
        if (!j["preset"].is_string()) throw Error("model config: field 'preset': expected a string");
        std::string p = j["preset"].get<std::string>();
        for (const auto& name : preset_names())
            if (name == p) c = preset_config(p);
        c.preset = p;
    }
    // An int field: an integer within int's range.
    auto to_int = [](const nlohmann::json& v, const char* key, const char* expected) {
        if (!v.is_number_integer()) throw Error(std::string("model config: field '") + key + "': expected " + expected);
        if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT_MAX))
            throw Error(std::string("model config: field '") + key + "': out of range");
        const auto x = v.get<int64_t>();
        if (x < INT_MIN || x > INT_MAX) throw Error(std::string("model config: field '") + key + "': out of range");
        return static_cast<int>(x);
    };
    auto get_int = [&](const char* key, int& out) {
        if (j.contains(key)) out = to_int(j[key], key, "an integer");
    };
    auto get_ints = [&](const char* key, std::vector<int>& out) {
        if (!j.contains(key)) return;
        const auto& v = j[key];
        if (!v.is_array()) throw Error(std::string("model config: field '") + key + "': expected an array of integers");
        out.clear();
        for (const auto& e : v) out.push_back(to_int(e, key, "an array of integers"));
    };
    get_int("in_channels", c.in_channels);
    get_int("channels", c.channels);
    get_ints("ch_mult", c.ch_mult);
    get_int("num_res_blocks", c.num_res_blocks);
    if (j.contains("mid_attention")) {
        if (!j["mid_attention"].is_boolean()) throw Error("model config: field 'mid_attention': expected true or false");
        c.mid_attention = j["mid_attention"].get<bool>();
    }
    get_ints("attn_levels", c.attn_levels);
    get_int("groups", c.groups);
    get_int("n", c.n);
    get_int("K", c.K);
    get_int("steps", c.steps);
    if (j.contains("solver")) {
        if (!j["solver"].is_string()) throw Error("model config: field 'solver': expected a string");
        c.solver = j["solver"].get<std::string>();
    }
    if (j.contains("alpha")) {
        if (!j["alpha"].is_number()) throw Error("model config: field 'alpha': expected a number");
        const double a = j["alpha"].get<double>();  // a double beyond float's range is no float (UB to convert)
        if (!(std::fabs(a) <= 1e30)) throw Error("model config: field 'alpha': out of range");
        c.alpha = static_cast<float>(a);
    }
    if (j.contains("latent")) {
        if (!j["latent"].is_string()) throw Error("model config: field 'latent': expected a string");
        c.latent = j["latent"].get<std::string>();
    }
    auto get_float = [&](const char* key, float& out) {
        if (!j.contains(key)) return;
        if (!j[key].is_number()) throw Error(std::string("model config: field '") + key + "': expected a number");
        const double a = j[key].get<double>();
        if (!(std::fabs(a) <= 1e30)) throw Error(std::string("model config: field '") + key + "': out of range");
        out = static_cast<float>(a);
    };
    get_float("beta", c.beta);
    get_float("ema_decay", c.ema_decay);
    c.validate();
    return c;
}

namespace {
// The tensors of a config whose fields are each within range (validate() checks those first).
std::vector<TensorShape> tensor_shapes(const ModelConfig& cfg);
// Parameters and buffers together: 2^31 float32 values are 8 GiB; the paper's largest preset has ~1e8.
constexpr double kMaxParameters = 2147483648.0;
}  // namespace

void ModelConfig::validate() const {
    auto bad = [](const std::string& why) { throw Error("model config: " + why); };
    if (in_channels != 3) bad("in_channels must be 3 (RGB), got " + std::to_string(in_channels));
    if (channels < 1 || channels > 4096) bad("channels must be in 1..4096, got " + std::to_string(channels));
    if (ch_mult.empty()) bad("ch_mult must have at least one level");
    if (ch_mult.size() > 11) bad("ch_mult has " + std::to_string(ch_mult.size()) + " levels (at most 11, d <= 10)");
    for (int m : ch_mult)
        if (m < 1 || m > 64) bad("ch_mult entries must be in 1..64, got [" + join_ints(ch_mult) + "]");
    if (num_res_blocks < 1 || num_res_blocks > 16)
        bad("num_res_blocks must be in 1..16, got " + std::to_string(num_res_blocks));
    for (int l : attn_levels)
        if (l < 0 || l > d()) bad("attn_levels entries must be in 0.." + std::to_string(d()) + ", got " + std::to_string(l));
    if (groups < 1 || groups > 4096) bad("groups must be in 1..4096, got " + std::to_string(groups));
    if (n < 1 || n > 65536) bad("n must be in 1..65536, got " + std::to_string(n));
    const long m = std::lround(std::sqrt(static_cast<double>(n)));
    if (m * m != n) bad("n must be a perfect square (2-D DCT dictionary), got " + std::to_string(n));
    if (K < 1 || K > 65535) bad("K must be in 1..65535, got " + std::to_string(K));
    if (steps < 1 || steps > 100000) bad("steps must be in 1..100000, got " + std::to_string(steps));
    if (solver != "lista" && solver != "ista" && solver != "fista")
        bad("solver must be lista, ista or fista, got '" + solver + "'");
    if (!std::isfinite(alpha) || alpha < 0) bad("alpha must be a finite number >= 0");
    if (latent != "sc" && latent != "vq") bad("latent must be sc or vq, got '" + latent + "'");
    if (!std::isfinite(beta) || beta < 0) bad("beta must be a finite number >= 0");
    if (!(ema_decay >= 0 && ema_decay < 1)) bad("ema_decay must be in [0, 1) (0: no EMA)");
    // Each field within its range can still describe a network no machine holds (channels 4096 x ch_mult 64):
    // the parameter count is bounded too, so a config cannot make a tool allocate terabytes.
    double params = 0;
    for (const auto& t : tensor_shapes(*this)) {
        double p = 1;
        for (int64_t s : t.shape) p *= static_cast<double>(s);
        params += p;
    }
    if (params > kMaxParameters)
        bad("the network would have " + std::to_string(static_cast<uint64_t>(params)) + " parameters (at most " +
            std::to_string(static_cast<uint64_t>(kMaxParameters)) + ")");
}

namespace {

// Mirrors the module tree of networks.cpp (EncoderImpl, DecoderImpl, LISTAImpl).
struct ShapeList {
    std::vector<TensorShape> out;
    std::string prefix;
    int index = 0;  // position in the current Sequential
    std::string at() { return prefix + std::to_string(index++) + "."; }
    void add(const std::string& name, std::vector<int64_t> shape) { out.push_back({name, std::move(shape), false}); }
    void conv(const std::string& p, int in, int out_ch, int k) {
        add(p + "weight", {out_ch, in, k, k});
        add(p + "bias", {out_ch});
    }
    void norm(const std::string& p, int ch) {
        add(p + "weight", {ch});
        add(p + "bias", {ch});
    }
    void resblock(int in, int out_ch) {
        const std::string p = at();
        norm(p + "norm1.", in);
        conv(p + "conv1.", in, out_ch, 3);
        norm(p + "norm2.", out_ch);
        conv(p + "conv2.", out_ch, out_ch, 3);
        if (in != out_ch) conv(p + "nin_shortcut.", in, out_ch, 1);
    }
    void attn(int ch) {
        const std::string p = at();
        norm(p + "norm.", ch);
        for (const char* m : {"q.", "k.", "v.", "proj_out."}) conv(p + m, ch, ch, 1);
    }
};

bool in_levels(const std::vector<int>& v, int level) { return std::find(v.begin(), v.end(), level) != v.end(); }

}  // namespace

std::vector<TensorShape> expected_tensors(const ModelConfig& cfg) {
    cfg.validate();
    return tensor_shapes(cfg);
}

namespace {

std::vector<TensorShape> tensor_shapes(const ModelConfig& cfg) {
    // (GroupNorm's affine parameters have one entry per channel, whatever the number of groups.)
    ShapeList s;
    const int ch = cfg.channels, levels = static_cast<int>(cfg.ch_mult.size());
    s.prefix = "encoder.body.";
    s.conv(s.at(), cfg.in_channels, ch, 3);
    int block_in = ch;
    for (int i = 0; i < levels; ++i) {
        const int block_out = ch * cfg.ch_mult[i];
        for (int b = 0; b < cfg.num_res_blocks; ++b) {
            s.resblock(block_in, block_out);
            block_in = block_out;
            if (in_levels(cfg.attn_levels, i)) s.attn(block_in);
        }
        if (i != levels - 1) s.conv(s.at() + "conv.", block_in, block_in, 3);
    }
    s.resblock(block_in, block_in);
    if (cfg.mid_attention) s.attn(block_in);
    s.resblock(block_in, block_in);
    s.norm(s.at(), block_in);
    s.at();  // Swish
    s.conv(s.at(), block_in, cfg.n, 3);

    // The latent module (an EMA codebook is a buffer: it is not trained by the optimiser).
    if (!cfg.vq()) {
        s.add("lista.W_e", {cfg.K, cfg.n});
        s.add("lista.S", {cfg.K, cfg.K});
        s.add("lista.theta", {cfg.K});
    } else if (cfg.ema_decay == 0) {
        s.add("vq.codebook", {cfg.K, cfg.n});
    }

    s.prefix = "decoder.body.";
    s.index = 0;
    block_in = ch * cfg.ch_mult[levels - 1];
    s.conv(s.at(), cfg.n, block_in, 3);
    s.resblock(block_in, block_in);
    if (cfg.mid_attention) s.attn(block_in);
    s.resblock(block_in, block_in);
    for (int i = levels - 1; i >= 0; --i) {
        const int block_out = ch * cfg.ch_mult[i];
        for (int b = 0; b < cfg.num_res_blocks + 1; ++b) {
            s.resblock(block_in, block_out);
            block_in = block_out;
            if (in_levels(cfg.attn_levels, i)) s.attn(block_in);
        }
        if (i != 0) s.conv(s.at() + "conv.", block_in, block_in, 3);
    }
    s.norm(s.at(), block_in);
    s.at();  // Swish
    s.conv(s.at(), block_in, cfg.in_channels, 3);
    if (!cfg.vq()) {
        s.out.push_back({"lista.D", {cfg.n, cfg.K}, true});
    } else if (cfg.ema_decay > 0) {
        s.out.push_back({"vq.codebook", {cfg.K, cfg.n}, true});
        s.out.push_back({"vq.ema_count", {cfg.K}, true});
        s.out.push_back({"vq.ema_sum", {cfg.K, cfg.n}, true});
    }
    return s.out;
}

}  // namespace

std::vector<std::string> ModelConfig::preset_names() {
    return {"paper-f8", "paper-f16", "paper-f64", "paper-f256", "cpu-f8", "tiny"};
}

ModelConfig ModelConfig::preset_config(const std::string& name) {
    ModelConfig c;  // defaults: C'=128, n=256, K=512, s=16, GroupNorm(32), mid attention
    c.preset = name;
    if (name == "paper-f8") {
        c.ch_mult = {1, 2, 2, 4};
    } else if (name == "paper-f16") {
        c.ch_mult = {1, 1, 2, 2, 4};
    } else if (name == "paper-f64") {
        c.ch_mult = {1, 1, 2, 2, 4, 4, 4};
    } else if (name == "paper-f256") {
        c.ch_mult = {1, 1, 2, 2, 2, 4, 4, 4, 4};
    } else if (name == "cpu-f8") {
        // The default model: d = 3 like paper-f8, narrow enough that encode+decode of a 256x256 image runs
        // in a fraction of a second on two cores.
        c.channels = 32;
        c.ch_mult = {1, 2, 2, 4};
        c.groups = 16;
    } else if (name == "tiny") {
        // For tests: d = 2, a handful of channels, n = 16 (4x4 DCT), K = 32, s = 4.
        c.channels = 8;
        c.ch_mult = {1, 2, 2};
        c.groups = 4;
        c.n = 16;
        c.K = 32;
        c.steps = 4;
    } else {
        std::string names;
        for (const auto& p : preset_names()) names += (names.empty() ? "" : ", ") + p;
        throw InvalidArgument("unknown preset '" + name + "' (known: " + names + ")");
    }
    return c;
}

Device parse_device(const std::string& s) {
    if (s == "cpu") return Device::CPU;
    if (s == "cuda") return Device::CUDA;
    throw InvalidArgument("--device: expected cpu or cuda, got '" + s + "'");
}

std::string default_model_path() {
    if (const char* env = std::getenv("SCVAE_MODEL"); env && *env) return env;
    std::vector<std::string> candidates;
    char buf[PATH_MAX];
    ssize_t len = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (len > 0) {
        std::string exe(buf, static_cast<size_t>(len));
        auto slash = exe.rfind('/');
        if (slash != std::string::npos)
            candidates.push_back(exe.substr(0, slash) + "/../share/scvae/models/default.scvm");
    }
#ifdef SCVAE_SOURCE_MODELS_DIR
    candidates.push_back(std::string(SCVAE_SOURCE_MODELS_DIR) + "/default.scvm");
#endif
#ifdef SCVAE_INSTALL_MODELS_DIR
    candidates.push_back(std::string(SCVAE_INSTALL_MODELS_DIR) + "/default.scvm");
#endif
    for (const auto& c : candidates)
        if (is_regular_file(c)) return c;
    std::string looked;
    for (const auto& c : candidates) looked += (looked.empty() ? "" : ", ") + c;
    throw Error("no model file found (looked for " + looked +
                "); pass --model FILE or set SCVAE_MODEL (a model is made by scvae-train, or an untrained one by "
                "'scvae-model init')");
}

}  // namespace scvae
