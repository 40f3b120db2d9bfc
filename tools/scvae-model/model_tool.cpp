// model_tool.cpp - scvae-model init, info and grow.
#include <cstdio>
#include <iostream>
#include <string>

#include "scvae/error.h"
#include "scvae/io.h"
#include "scvae/model.h"
#include "scvae-model/model_tool.h"

#include "cli.h"

namespace scvae {

int model_init_main(const ModelInitOptions& opt) {
    ModelConfig cfg;
    protect_inputs({opt.config_file});
    if (!opt.config_file.empty()) {
        auto bytes = read_file(opt.config_file);
        const std::string name = display_name(opt.config_file);
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(bytes.begin(), bytes.end());
        } catch (const nlohmann::json::exception& e) {
            throw error_at(name, std::string("not valid JSON (") + e.what() + ")");
        }
        try {
            cfg = ModelConfig::from_json(j);
        } catch (const std::exception& e) {
            throw error_at(name, e.what());
        }
    } else {
        cfg = ModelConfig::preset_config(opt.preset);
    }
    if (opt.latent) cfg.latent = *opt.latent;
    if (opt.vq_ema) {
        if (!cfg.vq()) throw UsageError("init: --vq-ema applies to VQ models only (add --latent vq)");
        cfg.ema_decay = static_cast<float>(*opt.vq_ema);
    }
    cfg.validate();
    refuse_binary_to_terminal(opt.output, "a binary model file", "use -o FILE or a pipe");
    Codec codec = Codec::init(cfg, opt.seed);
    nlohmann::json meta = {{"created_by", "scvae-model init"}, {"init_seed", opt.seed}, {"trained", false}};
    codec.save(opt.output, meta, opt.half);
    return 0;
}

int model_grow_main(const ModelGrowOptions& opt) {
    const std::string path = opt.model.value_or(default_model_path());
    protect_inputs({path});
    refuse_binary_to_terminal(opt.output, "a binary model file", "use -o FILE or a pipe");
    Codec model = Codec::load(path);
    Codec grown = [&] {
        try {
            const int c = model.config().channels;
            if (opt.channels && opt.channels != 2 * c)
                throw Error("widening doubles the channels: --channels must be " + std::to_string(2 * c) +
                            " (the model has " + std::to_string(c) + ")");
            Codec deeper = opt.res_blocks ? model.grow(opt.res_blocks, opt.seed) : std::move(model);
            return opt.channels ? deeper.widen(opt.seed) : std::move(deeper);
        } catch (const Error& e) {
            throw error_at(display_name(path), e.what());
        }
    }();
    grown.save(opt.output, grown.meta(), opt.half);
    return 0;
}

namespace {

std::string ints(const std::vector<int>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
    return s.empty() ? "-" : s;
}

}  // namespace

int model_info_main(const ModelInfoOptions& opt) {
    bool first = true;
    for (const auto& path : opt.files) {
        ModelInfo info = read_model_info(path);
        const ModelConfig& c = info.config;
        if (opt.json) {
            nlohmann::json j = {{"file", path},
                                {"fingerprint", info.fingerprint},
                                {"parameters", info.parameters},
                                {"d", c.d()},
                                {"factor", c.factor()},
                                {"config", c.to_json()},
                                {"meta", info.meta}};
            std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
            continue;
        }
        if (!first) std::cout << "\n";
        first = false;
        std::cout << "file: " << path << "\n"
                  << "fingerprint: " << info.fingerprint << "\n"
                  << "parameters: " << info.parameters << "\n"
                  << "preset: " << (c.preset.empty() ? "-" : c.preset) << "\n"
                  << "d: " << c.d() << " (downsampling factor " << c.factor() << ")\n"
                  << "n: " << c.n << "\n"
                  << "K: " << c.K << "\n"
                  << "latent: " << c.latent << "\n";
        if (c.vq())
            std::cout << "beta: " << c.beta << "\n"
                      << "ema_decay: " << c.ema_decay << "\n";
        else
            std::cout << "steps: " << c.steps << "\n"
                      << "solver: " << c.solver << "\n"
                      << "alpha: " << c.alpha << "\n";
        std::cout
                  << "channels: " << c.channels << "\n"
                  << "ch_mult: " << ints(c.ch_mult) << "\n"
                  << "num_res_blocks: " << c.num_res_blocks << "\n"
                  << "mid_attention: " << (c.mid_attention ? "yes" : "no") << "\n"
                  << "attn_levels: " << ints(c.attn_levels) << "\n"
                  << "groups: " << c.groups << "\n"
                  << "meta: " << info.meta.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
    return 0;
}

}  // namespace scvae
