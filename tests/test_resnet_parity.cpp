// End to end against torchvision: a seeded torchvision ResNet is saved with torch.save, converted with
// tools/convert_torchvision.py, loaded by the engine, and its pooled `conv` features in eval mode must match
// torchvision's (computed in float64) within 2e-5 relative on the CPU (measured: under 1e-6; a batch norm without
// its epsilon moves ResNet-18's by 6e-5) and 1e-4 on cuda:0 where a GPU is usable (cuDNN in strict fp32: no TF32).
// Every depth torchvision has, whose architecture is also detected from the file's keys.
#include <gtest/gtest.h>

#include "engine/safetensors.h"
#include "models/arch_detect.h"
#include "models/sgml_model.h"
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

struct ParityCase {
  std::string arch;
  int image_size, images;
};

void PrintTo(const ParityCase& c, std::ostream* os) { *os << c.arch << "@" << c.image_size; }

class ResNetParity : public ::testing::TestWithParam<ParityCase> {};

// Makes the seeded torchvision model and its float64 features, converts the weights, and returns the folder.
std::string prepare_reference(const ParityCase& c, const std::string& tag) {
  const std::string dir = test::scratch_dir("resnet_parity_" + tag + c.arch);
  test::run_reference("resnet_ref.py", {c.arch, std::to_string(c.image_size), std::to_string(c.images), dir});
  std::string out;
  EXPECT_EQ(test::run_command(test::reference_python() + " " + test::source_dir() + "/tools/convert_torchvision.py " +
                                  dir + "/" + c.arch + ".pth " + dir + "/" + c.arch + ".safetensors", &out), 0) << out;
  return dir;
}

void expect_torchvision_features(const ParityCase& c, Device device) {
  const std::string dir = prepare_reference(c, device.type == DeviceType::CPU ? "" : "cuda_");
  const std::string file = dir + "/" + c.arch + ".safetensors";
  EXPECT_EQ(detect_resnet_arch(load_safetensors(file), file), c.arch);
  SgmlModel model({c.arch, /*num_attributes=*/5});
  EXPECT_FALSE(model.load_weights(dir + "/" + c.arch + ".safetensors", /*require_head=*/false));  // backbone only
  model.to(device);
  const TensorMap ref = load_safetensors(dir + "/" + c.arch + "_ref.safetensors");
  const Tensor features = model.extract(ref.at("images").to(device), FeatureKind::Conv).to(Device::cpu());
  ASSERT_EQ(features.shape(), ref.at("features").shape());
  const double err = test::relative_error(features, ref.at("features"));
  ::testing::Test::RecordProperty("relative_error", std::to_string(err));
  std::printf("%s at %d px on %s: relative error of pooled features vs torchvision %.3g\n", c.arch.c_str(),
              c.image_size, device.type == DeviceType::CPU ? "cpu" : "cuda", err);
  EXPECT_LT(err, device.type == DeviceType::CPU ? 2e-5 : 1e-4);
}

TEST_P(ResNetParity, ConvertedWeightsGiveTorchvisionFeatures) {
  expect_torchvision_features(GetParam(), Device::cpu());
}

TEST_P(ResNetParity, ConvertedWeightsGiveTorchvisionFeaturesOnTheGpu) {
  SGML_SKIP_WITHOUT_GPU();
  expect_torchvision_features(GetParam(), test::gpu());
}

INSTANTIATE_TEST_SUITE_P(Torchvision, ResNetParity,
                         ::testing::Values(ParityCase{"resnet18", 64, 3}, ParityCase{"resnet34", 32, 2},
                                           ParityCase{"resnet50", 64, 2}, ParityCase{"resnet101", 224, 3},
                                           ParityCase{"resnet152", 32, 2}),
                         [](const ::testing::TestParamInfo<ParityCase>& info) { return info.param.arch; });

}  // namespace
