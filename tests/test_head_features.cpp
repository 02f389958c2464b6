// The evaluation features past the backbone against PyTorch (tests/reference/head_features_ref.py): a seeded
// torchvision ResNet-18 with random BN statistics and a head, computed by torch in eval mode in float64 from the
// float32 weights the engine loads. SGML's head gives `fc` (after its ReLU) and `emb` (the default evaluation
// feature); Divide & Conquer's linear head with K = 3 learners on d = 10 (slices of 4, 4 and 2 columns) gives the
// concatenation of the L2-normalised slices. The tolerance is the backbone parity's (tests/test_resnet_parity.cpp,
// 2e-5 relative on the CPU): the head adds one or two small float32 products and a normalisation to the backbone's
// error (measured: under 1e-6). A missing ReLU, or slices normalised as one vector, moves them by 1e-1 or more.
#include <gtest/gtest.h>

#include "engine/safetensors.h"
#include "models/sgml_model.h"
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

class HeadFeatureParity : public ::testing::Test {
 protected:
  static constexpr int kFcDim = 64, kEmbDim = 16, kAttributes = 5, kDncDim = 10, kLearners = 3;
  void SetUp() override {
    SGML_SKIP_WITHOUT_TORCH();
    dir_ = test::scratch_dir("head_features");
    test::run_reference("head_features_ref.py",
                        {dir_, "64", "3", std::to_string(kFcDim), std::to_string(kEmbDim), std::to_string(kAttributes),
                         std::to_string(kDncDim), std::to_string(kLearners)});
    ref_ = load_safetensors(dir_ + "/features.safetensors");
  }
  // The engine's feature against torch's `key`, printed with its error.
  void expect_matches(const Tensor& ours, const std::string& key) const {
    const Tensor& theirs = ref_.at(key);
    ASSERT_EQ(ours.shape(), theirs.shape()) << key;
    const double err = test::relative_error(ours, theirs);
    std::printf("%s vs PyTorch: relative error %.3g\n", key.c_str(), err);
    EXPECT_LT(err, 2e-5) << key;
  }
  std::string dir_;
  TensorMap ref_;
};

TEST_F(HeadFeatureParity, SgmlHeadFcAndEmbMatchTorch) {
  SgmlModelConfig config;
  config.arch = "resnet18";
  config.num_attributes = kAttributes;
  config.fc_dim = kFcDim;
  config.embedding_dim = kEmbDim;
  SgmlModel model(config);
  ASSERT_TRUE(model.load_weights(dir_ + "/sgml_head.safetensors", /*require_head=*/true));
  const Tensor& images = ref_.at("images");
  expect_matches(model.extract(images, FeatureKind::Fc), "fc");
  expect_matches(model.extract(images, FeatureKind::Emb), "emb");
}

TEST_F(HeadFeatureParity, DncJoinedEmbeddingMatchesTorch) {
  SgmlModelConfig config;
  config.arch = "resnet18";
  config.head = HeadKind::Linear;
  config.embedding_dim = kDncDim;
  config.learners = kLearners;
  SgmlModel model(config);
  ASSERT_TRUE(model.load_weights(dir_ + "/linear_head.safetensors", /*require_head=*/true));
  expect_matches(model.extract(ref_.at("images"), FeatureKind::Emb), "joined");
}

}  // namespace
