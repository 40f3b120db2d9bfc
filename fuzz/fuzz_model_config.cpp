// fuzz_model_config.cpp - libFuzzer target for the model config JSON (ModelConfig::from_json, as scvae-train
// --config and every model file's header give it): a config it accepts must validate, give tensor shapes with
// positive sizes, and read back from its own JSON to the same JSON. Every failure must be a scvae::Error
// (a JSON syntax error is the caller's nlohmann::json::parse_error).
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "scvae/error.h"
#include "scvae/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, false);
    if (j.is_discarded()) return -1;
    try {
        scvae::ModelConfig c = scvae::ModelConfig::from_json(j);
        for (const auto& t : scvae::expected_tensors(c))
            for (int64_t s : t.shape)
                if (s < 1) {
                    std::fprintf(stderr, "fuzz_model_config: tensor %s has a size %lld\n", t.name.c_str(),
                                 static_cast<long long>(s));
                    std::abort();
                }
        if (scvae::ModelConfig::from_json(c.to_json()).to_json() != c.to_json()) {
            std::fprintf(stderr, "fuzz_model_config: the config does not read back from its JSON\n");
            std::abort();
        }
    } catch (const scvae::Error&) {
    } catch (const scvae::InvalidArgument&) {
    }
    return 0;
}
