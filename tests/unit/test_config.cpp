// Unit tests of the torch-free model file container and config limits (lib/src/model/file.h, config.cpp):
// what a config may ask for (issue 15), checked before anything is allocated; runs under the sanitizer build too.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/file.h"
#include "scvae/error.h"
#include "scvae/io.h"
#include "scvae/model.h"

using namespace scvae;

namespace {

std::string config_error(const std::string& json) {
    try {
        ModelConfig::from_json(nlohmann::json::parse(json));
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(ConfigLimits, EachFieldHasARange) {
    EXPECT_EQ(config_error(R"({"preset":"tiny"})"), "");
    EXPECT_EQ(config_error(R"({"preset":"tiny","n":262144})"), "model config: n must be in 1..65536, got 262144");
    // n = 2147395600 = 46340^2 was a perfect square check away from a signed overflow (46341^2 > INT_MAX)
    EXPECT_EQ(config_error(R"({"preset":"tiny","n":2147483647})"), "model config: n must be in 1..65536, got 2147483647");
    EXPECT_EQ(config_error(R"({"preset":"tiny","n":17})"),
              "model config: n must be a perfect square (2-D DCT dictionary), got 17");
    EXPECT_EQ(config_error(R"({"preset":"tiny","K":65536})"), "model config: K must be in 1..65535, got 65536");
    EXPECT_EQ(config_error(R"({"preset":"tiny","steps":0})"), "model config: steps must be in 1..100000, got 0");
    EXPECT_EQ(config_error(R"({"preset":"tiny","channels":5000})"),
              "model config: channels must be in 1..4096, got 5000");
    EXPECT_EQ(config_error(R"({"preset":"tiny","groups":100000})"), "model config: groups must be in 1..4096, got 100000");
    EXPECT_EQ(config_error(R"({"preset":"tiny","ch_mult":[1,1,1,1,1,1,1,1,1,1,1,1]})"),
              "model config: ch_mult has 12 levels (at most 11, d <= 10)");
    // integers beyond int: refused, not wrapped (18446744073709551615 once read as -1)
    EXPECT_EQ(config_error(R"({"preset":"tiny","channels":18446744073709551615})"),
              "model config: field 'channels': out of range");
    EXPECT_EQ(config_error(R"({"preset":"tiny","ch_mult":[1,4294967297]})"), "model config: field 'ch_mult': out of range");
    // a double beyond float's range is not converted (undefined behaviour)
    EXPECT_EQ(config_error(R"({"preset":"tiny","alpha":1e300})"), "model config: field 'alpha': out of range");
    EXPECT_EQ(config_error(R"({"preset":"tiny","alpha":-1})"), "model config: alpha must be a finite number >= 0");
}

TEST(ConfigLimits, TheParameterCountIsBounded) {
    // every field within its range, the network far beyond any machine: refused from the config alone
    const std::string e = config_error(R"({"channels":4096,"ch_mult":[64,64,64,64],"n":65536,"K":65535})");
    EXPECT_EQ(e.rfind("model config: the network would have ", 0), 0u) << e;
    EXPECT_NE(e.find(" parameters (at most 2147483648)"), std::string::npos) << e;
    // every preset is well inside the bound
    for (const auto& name : ModelConfig::preset_names()) EXPECT_NO_THROW(ModelConfig::preset_config(name).validate());
}

TEST(ModelFileHeader, ParsesWithoutLibTorch) {
    const std::string path = std::string(SCVAE_TEST_DATA) + "/tiny.scvm";
    ParsedFile pf = parse_model_file(path);
    EXPECT_EQ(pf.cfg.preset, "tiny");
    EXPECT_EQ(pf.tensors.size(), expected_tensors(pf.cfg).size());
    EXPECT_EQ(pf.fingerprint.size(), 16u);
    // the same bytes cut short, or with a byte of the header changed, are refused with the name given
    std::vector<uint8_t> b = read_file(path);
    std::vector<uint8_t> cut(b.begin(), b.begin() + static_cast<long>(b.size() / 2));
    try {
        parse_model_bytes(cut, "cut.scvm");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()), "cut.scvm: truncated model file (expected " + std::to_string(b.size()) +
                                             " bytes, got " + std::to_string(cut.size()) + ")");
    }
    std::vector<uint8_t> flipped = b;
    flipped[40] ^= 0x01;
    EXPECT_THROW(parse_model_bytes(flipped, "flipped.scvm"), Error);
    EXPECT_THROW(parse_model_bytes({}, "empty.scvm"), Error);
}
