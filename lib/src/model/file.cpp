// file.cpp - the model file container parsed without LibTorch (see file.h, scvae-model(5)).
#include "model/file.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>

#include "io/bytes.h"
#include "scvae/codes.h"  // half_to_float
#include "scvae/error.h"
#include "scvae/io.h"

namespace scvae {

std::string shape_str(const std::vector<int64_t>& s) {
    std::string r = "[";
    for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
    return r + "]";
}

ParsedFile parse_model_file(const std::string& path) { return parse_model_bytes(read_file(path), display_name(path)); }

ParsedFile parse_model_bytes(std::vector<uint8_t> bytes, const std::string& name) {
    ParsedFile pf;
    pf.bytes = std::move(bytes);
    auto fail = [&](const std::string& why) -> Error { return error_at(name, why); };
    const auto& b = pf.bytes;
    const size_t size = b.size();
    bytes::Reader in(b.data(), size, name, "model file");
    in.magic(kModelMagic, sizeof(kModelMagic), "not a scvae model file");
    const uint32_t version = in.u32();
    const uint64_t jlen = in.u32();
    if (version != kModelFileVersion) throw fail("unsupported model file version " + std::to_string(version));
    in.need(jlen + 4);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    auto whole_crc_ok = [&]() { return true; };  // mutations must get past the checksum
#else
    auto whole_crc_ok = [&]() { return bytes::crc32(b.data(), size - 4) == bytes::le32(&b[size - 4]); };
#endif
    try {
        const auto* hp = reinterpret_cast<const char*>(in.raw(jlen));
        pf.header = nlohmann::json::parse(hp, hp + jlen);
    } catch (const nlohmann::json::exception& e) {
        if (!whole_crc_ok()) throw fail("model file checksum mismatch");
        throw fail(std::string("corrupt model file header (") + e.what() + ")");
    }
    const auto& h = pf.header;
    auto header_error = [&](const std::string& why) -> Error {
        if (!whole_crc_ok()) return fail("model file checksum mismatch");
        return fail("corrupt model file header (" + why + ")");
    };
    if (!h.is_object() || !h.contains("format") || h["format"] != "scvae-model") throw fail("not a scvae model file");
    if (!h.contains("tensors") || !h["tensors"].is_array()) throw header_error("no tensor list");
    uint64_t data_bytes = 0;
    try {
        for (const auto& t : h["tensors"]) {
            TensorEntry e;
            e.name = t.at("name").get<std::string>();
            const auto& shape = t.at("shape");
            if (!shape.is_array()) throw header_error("tensor " + e.name + " has a bad shape");
            for (const auto& s : shape)
                if (!s.is_number_integer()) throw header_error("tensor " + e.name + " has a bad shape");
            e.shape = shape.get<std::vector<int64_t>>();
            std::string dt = t.at("dtype").get<std::string>();
            if (dt != "f32" && dt != "f16") throw header_error("tensor " + e.name + " has unknown dtype '" + dt + "'");
            e.half = dt == "f16";
            e.buffer = t.value("buffer", false);
            e.offset = t.at("offset").get<uint64_t>();
            e.bytes = t.at("bytes").get<uint64_t>();
            uint64_t numel = 1;
            for (auto s : e.shape) {
                // no product beyond 2^48 elements, so the byte count cannot wrap around
                if (s < 0 || s > (int64_t(1) << 40) || (s > 0 && numel > (uint64_t(1) << 48) / uint64_t(s)))
                    throw header_error("tensor " + e.name + " has a bad shape");
                numel *= static_cast<uint64_t>(s);
            }
            if (numel * (e.half ? 2 : 4) != e.bytes) throw header_error("tensor " + e.name + " has a bad byte count");
            if (e.offset > (uint64_t(1) << 48) || e.bytes > (uint64_t(1) << 48))
                throw header_error("tensor " + e.name + " lies outside the file");
            data_bytes = std::max(data_bytes, e.offset + e.bytes);
            pf.tensors.push_back(std::move(e));
        }
        // The tensors must not overlap (each byte of data belongs to one tensor at most).
        std::vector<const TensorEntry*> by_offset;
        for (const auto& e : pf.tensors) by_offset.push_back(&e);
        std::sort(by_offset.begin(), by_offset.end(),
                  [](const TensorEntry* a, const TensorEntry* b) { return a->offset < b->offset; });
        for (size_t i = 1; i < by_offset.size(); ++i)
            if (by_offset[i]->offset < by_offset[i - 1]->offset + by_offset[i - 1]->bytes)
                throw header_error("tensors " + by_offset[i - 1]->name + " and " + by_offset[i]->name + " overlap");
        pf.fingerprint = h.at("fingerprint").get<std::string>();
        pf.meta = h.value("meta", nlohmann::json::object());
    } catch (const nlohmann::json::exception& e) {
        throw header_error(e.what());
    }
    pf.data_start = in.pos();
    in.need_exactly(data_bytes + 4);
    if (!whole_crc_ok()) throw fail("model file checksum mismatch");
    if (h.contains("version") && h["version"] != kModelFileVersion)
        throw fail("unsupported model file version " + h["version"].dump());
    if (!h.contains("config")) throw fail("corrupt model file header (no config)");
    try {
        pf.cfg = ModelConfig::from_json(h["config"]);
    } catch (const Error& e) {
        throw fail(e.what());
    } catch (const InvalidArgument& e) {
        throw fail(e.what());
    }
    // The tensors against the config, before anything is allocated for the network: a header whose config
    // asks for a huge network cannot make a reader build it.
    {
        std::map<std::string, const TensorEntry*> by_name;
        for (const auto& e : pf.tensors) {
            if (by_name.count(e.name)) throw fail("tensor " + e.name + " appears twice");
            by_name[e.name] = &e;
        }
        for (const auto& want : expected_tensors(pf.cfg)) {
            auto it = by_name.find(want.name);
            if (it == by_name.end()) throw fail("tensor " + want.name + " is missing from the model file");
            if (it->second->shape != want.shape)
                throw fail("tensor " + want.name + " has shape " + shape_str(it->second->shape) + ", config expects " +
                           shape_str(want.shape));
            by_name.erase(it);
        }
        if (!by_name.empty()) throw fail("tensor " + by_name.begin()->first + " does not belong to this model's config");
    }
    return pf;
}

std::string Fnv::hex() const {
    char buf[17];
    std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

std::vector<float> tensor_values(const ParsedFile& pf, const TensorEntry& e, bool canonical) {
    const uint8_t* p = pf.bytes.data() + pf.data_start + e.offset;
    const size_t n = e.bytes / (e.half ? 2 : 4);
    std::vector<float> v(n);
    if (e.half) {
        for (size_t i = 0; i < n; ++i) v[i] = half_to_float(static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8)));
    } else {
        std::memcpy(v.data(), p, n * sizeof(float));  // little-endian hosts (model/codec.cpp)
    }
    if (canonical)
        for (float& x : v)
            if (x == 0.f) x = 0.f;  // -0 -> +0
    return v;
}

std::string stored_fingerprint(const ParsedFile& pf, FingerprintKind kind) {
    const bool legacy = kind == FingerprintKind::Legacy;
    std::map<std::string, const TensorEntry*> by_name;
    for (const auto& e : pf.tensors) by_name[e.name] = &e;
    Fnv f;
    if (legacy) f.h = kLegacyFnvOffsetBasis;
    const std::string cj = pf.cfg.to_json().dump();
    f.add(cj.data(), cj.size());
    for (const auto& want : expected_tensors(pf.cfg)) {
        const TensorEntry& e = *by_name.at(want.name);  // parse_model_bytes checked that every one is there
        const std::vector<float> v = tensor_values(pf, e, !legacy);
        f.add_tensor(e.name, e.shape, v.data(), v.size());
    }
    return f.hex();
}

std::string checked_fingerprint(const ParsedFile& pf, const std::string& name) {
    std::string fp = stored_fingerprint(pf);
    // a file written before the fingerprint was fixed keeps its stored one, so that its code records still name it
    if (fp != pf.fingerprint && stored_fingerprint(pf, FingerprintKind::Legacy) == pf.fingerprint) fp = pf.fingerprint;
    if (fp != pf.fingerprint)
        throw error_at(name, "fingerprint mismatch (the header says " + pf.fingerprint + ", the weights give " + fp + ")");
    return fp;
}

ModelInfo read_model_info(const std::string& path) {
    // The whole file is checked as a load checks it (tensor shapes against the config, the fingerprint), but
    // no network is built.
    ParsedFile pf = parse_model_file(path);
    ModelInfo info;
    info.fingerprint = checked_fingerprint(pf, display_name(path));
    for (const auto& want : expected_tensors(pf.cfg))
        if (!want.buffer) {
            uint64_t numel = 1;
            for (int64_t s : want.shape) numel *= static_cast<uint64_t>(s);
            info.parameters += numel;
        }
    info.config = pf.cfg;
    info.meta = pf.meta;
    return info;
}

}  // namespace scvae
