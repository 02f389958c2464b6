// End to end against torchvision: a seeded torchvision ResNet is saved with torch.save, converted with
// tools/convert_torchvision.py, loaded by the engine, and its pooled `conv` features in eval mode must match
// torchvision's (computed in float64) within 1e-4 relative.
#include <gtest/gtest.h>

#include "engine/safetensors.h"
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

TEST_P(ResNetParity, ConvertedWeightsGiveTorchvisionFeatures) {
  const ParityCase c = GetParam();
  const std::string dir = test::scratch_dir("resnet_parity_" + c.arch);
  test::run_reference("resnet_ref.py", {c.arch, std::to_string(c.image_size), std::to_string(c.images), dir});
  const std::string converted = dir + "/" + c.arch + ".safetensors";
  std::string out;
  ASSERT_EQ(test::run_command(test::reference_python() + " " + test::source_dir() + "/tools/convert_torchvision.py " +
                                  dir + "/" + c.arch + ".pth " + converted, &out), 0) << out;

  SgmlModel model({c.arch, /*num_attributes=*/5});
  EXPECT_FALSE(model.load_weights(converted, /*require_head=*/false));  // backbone only
  const TensorMap ref = load_safetensors(dir + "/" + c.arch + "_ref.safetensors");
  const Tensor features = model.extract(ref.at("images"), FeatureKind::Conv);
  ASSERT_EQ(features.shape(), ref.at("features").shape());
  const double err = test::relative_error(features, ref.at("features"));
  RecordProperty("relative_error", std::to_string(err));
  std::printf("%s at %d px: relative error of pooled features vs torchvision %.3g\n", c.arch.c_str(), c.image_size, err);
  EXPECT_LT(err, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Torchvision, ResNetParity,
                         ::testing::Values(ParityCase{"resnet18", 64, 3}, ParityCase{"resnet50", 64, 2},
                                           ParityCase{"resnet101", 224, 3}),
                         [](const ::testing::TestParamInfo<ParityCase>& info) { return info.param.arch; });

}  // namespace
