// Weights files: round trip, and every kind of bad file gives a clear sgml::Error naming the file and the problem.
#include <gtest/gtest.h>


#include "engine/check.h"
#include "engine/parameter_store.h"
#include "engine/safetensors.h"
#include "models/arch_detect.h"
#include "models/sgml_model.h"
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

// Expects load_weights(path) to throw an sgml::Error whose message contains every one of `parts`.
void expect_load_error(const std::string& path, const std::vector<std::string>& parts, bool require_head = false) {
  SgmlModel model({"resnet18", 3});
  try {
    model.load_weights(path, require_head);
    FAIL() << "no error for " << path;
  } catch (const Error& e) {
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what() << "\nlacks: " << p;
  }
}

class WeightsFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::scratch_dir("weights_files");
    good_ = dir_ + "/good.safetensors";
    SgmlModel model({"resnet18", 3, 1024, 512, 7});
    model.save_weights(good_);
    tensors_ = load_safetensors(good_);
  }
  std::string dir_, good_;
  TensorMap tensors_;
};

TEST_F(WeightsFiles, RoundTripKeepsEveryValue) {
  SgmlModel a({"resnet18", 3, 1024, 512, 7}), b({"resnet18", 3, 1024, 512, 99});
  EXPECT_TRUE(b.load_weights(good_, /*require_head=*/true));
  const TensorMap sa = a.store().state_dict(), sb = b.store().state_dict();
  ASSERT_EQ(sa.size(), sb.size());
  for (const auto& [name, t] : sa) {
    if (t.dtype() != DType::F32) continue;
    EXPECT_EQ(t.to_vector(), sb.at(name).to_vector()) << name;
  }
  // Names are torchvision's.
  for (const char* key : {"conv1.weight", "bn1.running_mean", "bn1.num_batches_tracked", "layer4.1.conv2.weight",
                          "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_var", "head.fc.weight",
                          "head.emb.bias", "head.attr.weight"})
    EXPECT_TRUE(sa.count(key)) << key;
}

TEST_F(WeightsFiles, TruncatedFile) {
  const std::string bytes = test::file_text(good_);
  test::write_file_text(dir_ + "/truncated.safetensors", bytes.substr(0, bytes.size() / 2));
  expect_load_error(dir_ + "/truncated.safetensors", {"truncated.safetensors", "truncated"});
  test::write_file_text(dir_ + "/tiny.safetensors", bytes.substr(0, 5));
  expect_load_error(dir_ + "/tiny.safetensors", {"tiny.safetensors", "not a safetensors file"});
}

TEST_F(WeightsFiles, WrongHeader) {
  std::string bytes = test::file_text(good_);
  bytes[8] = '#';  // the JSON header's first character
  test::write_file_text(dir_ + "/badjson.safetensors", bytes);
  expect_load_error(dir_ + "/badjson.safetensors", {"badjson.safetensors", "not valid JSON"});
  test::write_file_text(dir_ + "/huge.safetensors", std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + "{}");
  expect_load_error(dir_ + "/huge.safetensors", {"huge.safetensors", "header length"});
  expect_load_error(dir_ + "/does_not_exist.safetensors", {"does_not_exist.safetensors", "cannot open"});
}

// A PyTorch file (torch.save's zip archive, or a legacy pickle) or an image given as weights: the message says what
// it is and how to convert, instead of a nonsensical header length.
TEST_F(WeightsFiles, ForeignFilesAreNamedWithAdvice) {
  const std::string padding(64, '\0');
  const std::pair<std::string, std::vector<std::string>> cases[] = {
      {std::string("PK\x03\x04", 4) + padding, {"torch.save", "tools/convert_torchvision.py"}},
      {std::string("\x80\x02\x8a\x0a", 4) + padding, {"torch.save", "tools/convert_torchvision.py"}},
      {std::string("\x89PNG\r\n\x1a\n") + padding, {"an image"}},
      {std::string("\xff\xd8\xff\xe0", 4) + padding, {"an image"}}};
  int i = 0;
  for (const auto& [bytes, words] : cases) {
    const std::string path = dir_ + "/foreign" + std::to_string(i++) + ".pth";
    test::write_file_text(path, bytes);
    std::vector<std::string> expected = words;
    expected.push_back(path);
    expected.push_back("is not a safetensors file");
    expect_load_error(path, expected);
  }
}

TEST_F(WeightsFiles, MissingKey) {
  TensorMap t = tensors_;
  t.erase("layer3.1.bn2.weight");
  save_safetensors(dir_ + "/missing.safetensors", t);
  expect_load_error(dir_ + "/missing.safetensors", {"missing.safetensors", "missing key", "layer3.1.bn2.weight"});
}

TEST_F(WeightsFiles, WrongShape) {
  TensorMap t = tensors_;
  t["layer1.0.conv1.weight"] = Tensor::zeros({64, 64, 1, 1});
  save_safetensors(dir_ + "/shape.safetensors", t);
  expect_load_error(dir_ + "/shape.safetensors",
                    {"shape.safetensors", "layer1.0.conv1.weight", "[64, 64, 1, 1]", "[64, 64, 3, 3]"});
}

// A file that fails on a late key (a wrong shape, a missing key) changes nothing: every key is checked before any
// value is copied, so a caller that goes on after the error still has the model it had.
TEST_F(WeightsFiles, AFailedLoadLeavesTheModelAsItWas) {
  SgmlModel model({"resnet18", 3, 1024, 512, 7});
  ASSERT_TRUE(model.load_weights(good_, /*require_head=*/true));
  TensorMap zeros;
  for (const auto& [name, t] : tensors_) zeros[name] = Tensor::zeros(t.shape(), Device::cpu(), t.dtype());
  TensorMap late_shape = zeros, late_missing = zeros;
  late_shape["layer4.1.bn2.running_var"] = Tensor::zeros({3});
  late_missing.erase("head.emb.bias");
  save_safetensors(dir_ + "/late_shape.safetensors", late_shape);
  save_safetensors(dir_ + "/late_missing.safetensors", late_missing);
  for (const char* bad : {"late_shape.safetensors", "late_missing.safetensors"}) {
    SCOPED_TRACE(bad);
    EXPECT_THROW(model.load_weights(dir_ + "/" + bad, /*require_head=*/true), Error);
    const TensorMap now = model.store().state_dict();
    for (const auto& [name, t] : tensors_)
      if (t.dtype() == DType::F32) EXPECT_EQ(now.at(name).to_vector(), t.to_vector()) << name;
  }
}

// Two registrations under one name would leave one of them out of state_dict, and so out of every checkpoint.
TEST(ParameterStoreNames, ANameRegisteredTwiceIsAnError) {
  ParameterStore store;
  store.add_parameter("fc.weight", Tensor::zeros({2}));
  EXPECT_THROW(store.add_parameter("fc.weight", Tensor::zeros({2})), Error);
  Tensor buffer = Tensor::zeros({2});
  EXPECT_THROW(store.add_buffer("fc.weight", &buffer), Error);
  store.add_buffer("bn.running_mean", &buffer);
  EXPECT_THROW(store.add_buffer("bn.running_mean", &buffer), Error);
  EXPECT_EQ(store.state_dict().size(), 2u);
}

TEST_F(WeightsFiles, UnexpectedKey) {
  TensorMap t = tensors_;
  t["layer5.0.conv1.weight"] = Tensor::zeros({1});
  save_safetensors(dir_ + "/unexpected.safetensors", t);
  expect_load_error(dir_ + "/unexpected.safetensors", {"unexpected key", "layer5.0.conv1.weight"});
}

TEST_F(WeightsFiles, PartialHeadIsAnErrorAndWholeHeadMayBeAbsent) {
  TensorMap t = tensors_;
  t.erase("head.emb.weight");
  save_safetensors(dir_ + "/partial_head.safetensors", t);
  expect_load_error(dir_ + "/partial_head.safetensors", {"missing key", "head.emb.weight"});

  // Backbone only (as converted from torchvision, with its fc classifier): loads, the head is initialised.
  TensorMap backbone;
  for (const auto& [name, value] : tensors_)
    if (name.rfind("head.", 0) != 0 && name.find("num_batches_tracked") == std::string::npos) backbone[name] = value;
  backbone["fc.weight"] = Tensor::zeros({1000, 512});
  backbone["fc.bias"] = Tensor::zeros({1000});
  save_safetensors(dir_ + "/backbone.safetensors", backbone);
  SgmlModel model({"resnet18", 3});
  EXPECT_FALSE(model.load_weights(dir_ + "/backbone.safetensors", false));
  // PyTorch's nn.Linear default: uniform within ±1/sqrt(fan_in).
  const std::vector<float> w = model.store().state_dict().at("head.fc.weight").to_vector();
  const float bound = 1.0f / std::sqrt(512.0f);
  float lo = 0, hi = 0;
  for (float v : w) lo = std::min(lo, v), hi = std::max(hi, v);
  EXPECT_LE(hi, bound);
  EXPECT_GE(lo, -bound);
  EXPECT_GT(hi, 0.9f * bound);  // spread over the whole range, not a constant
  expect_load_error(dir_ + "/backbone.safetensors", {"missing key", "head."}, /*require_head=*/true);

  // An SGML head without head.fc is a damaged SGML head, not Divide & Conquer's linear head (head.emb alone).
  TensorMap no_fc = tensors_;
  no_fc.erase("head.fc.weight");
  no_fc.erase("head.fc.bias");
  EXPECT_FALSE(holds_linear_head(no_fc));
  save_safetensors(dir_ + "/no_fc.safetensors", no_fc);
  expect_load_error(dir_ + "/no_fc.safetensors", {"missing key", "head.fc.weight"});
}

// Which ResNet a file holds, from its keys: a missing key is named, and ResNeXt / Wide ResNet (the same names, a
// grouped or wider first block) are said to be variants rather than failing on the first shape that differs.
TEST_F(WeightsFiles, ArchitectureDetectionNamesWhatItLacks) {
  EXPECT_EQ(detect_resnet_arch(tensors_, "good"), "resnet18");
  for (const char* key : {"conv1.weight", "layer1.0.conv1.weight", "layer1.0.conv2.weight"}) {
    TensorMap t = tensors_;
    t.erase(key);
    EXPECT_NE(test::error_of([&] { detect_resnet_arch(t, "f.safetensors"); })
                  .find(std::string("'f.safetensors' does not hold ResNet weights with torchvision names (no ") + key),
              std::string::npos) << key;
  }
  TensorMap wide = tensors_;
  wide["layer1.0.conv1.weight"] = Tensor::zeros({128, 64, 3, 3});
  wide["layer1.0.conv2.weight"] = Tensor::zeros({128, 128, 3, 3});
  EXPECT_NE(
      test::error_of([&] {
        detect_resnet_arch(wide, "w.safetensors");
      }).find("'w.safetensors' holds a ResNet variant: its first block has layer1.0.conv1.weight [128, 64, 3, 3]"),
      std::string::npos);
}

TEST_F(WeightsFiles, HalfPrecisionFilesAreWidened) {
  // BF16 and F16 files (as some hubs ship them) load as float32.
  const std::string path = dir_ + "/half.safetensors";
  std::string header =
      R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]}})";
  std::string bytes(8, '\0');
  bytes[0] = char(header.size());
  bytes += header;
  bytes += std::string("\x00\x3c\x00\xc0", 4);  // F16 1.0, -2.0
  bytes += std::string("\x40\x40", 2);          // BF16 3.0
  test::write_file_text(path, bytes);
  const TensorMap t = load_safetensors(path);
  EXPECT_EQ(t.at("a").to_vector(), (std::vector<float>{1.0f, -2.0f}));
  EXPECT_EQ(t.at("b").to_vector(), (std::vector<float>{3.0f}));
}

}  // namespace
