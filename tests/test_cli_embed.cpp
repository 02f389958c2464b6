// `sgml embed` end to end: torchvision weights converted with the tool, PNG images decoded, normalised and run in
// eval mode; the .npy must equal torchvision's pooled features (PIL decoding, same normalisation) within 2e-5
// (measured: 4.6e-7 with oneDNN's AVX-512 kernels, 1.2e-6 with its AVX2 ones).
// Bad input (missing image, corrupt image, missing weights, a head's feature from a file without one, in embed and
// search) fails with a message naming the file.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/npy.h"
#include "engine/safetensors.h"
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

std::string sgml_binary() { return std::string(SGML_BINARY_DIR) + "/sgml"; }

class CliEmbed : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::scratch_dir("embed");
    test::run_reference("embed_ref.py", {dir_, "64", "3"});
    std::string out;
    ASSERT_EQ(test::run_command(test::reference_python() + " " + test::source_dir() + "/tools/convert_torchvision.py " +
                                    dir_ + "/resnet18.pth " + dir_ + "/w.safetensors", &out), 0) << out;
  }
  std::string images() const { return dir_ + "/img_0.png " + dir_ + "/img_1.png " + dir_ + "/img_2.png"; }
  std::string dir_;
};

TEST_F(CliEmbed, FeaturesMatchTorchvision) {
  std::string out;
  ASSERT_EQ(test::run_command(sgml_binary() + " embed --weights " + dir_ + "/w.safetensors --image-size 64 --device cpu"
                                  " --out " + dir_ + "/ours.npy " + images(), &out), 0) << out;
  EXPECT_NE(out.find("resnet18"), std::string::npos) << out;  // the architecture was detected from the keys
  const Tensor ours = load_npy(dir_ + "/ours.npy"), ref = load_npy(dir_ + "/features.npy");
  ASSERT_EQ(ours.shape(), (Shape{3, 512}));
  const double err = test::relative_error(ours, ref);
  std::printf("embed vs torchvision: relative error %.3g\n", err);
  EXPECT_LT(err, 2e-5);
}

TEST_F(CliEmbed, BadInputNamesTheFile) {
  std::ofstream(dir_ + "/broken.jpg") << "not a jpeg";
  std::string out;
  EXPECT_NE(test::run_command(sgml_binary() + " embed --weights " + dir_ + "/w.safetensors --image-size 64 --out " +
                                  dir_ + "/x.npy " + dir_ + "/broken.jpg", &out), 0);
  EXPECT_NE(out.find("broken.jpg"), std::string::npos) << out;
  EXPECT_NE(test::run_command(sgml_binary() + " embed --weights " + dir_ + "/w.safetensors --out " + dir_ + "/x.npy " +
                                  dir_ + "/missing.png", &out), 0);
  EXPECT_NE(out.find("missing.png"), std::string::npos) << out;
  EXPECT_NE(
      test::run_command(
          sgml_binary() + " embed --weights " + dir_ + "/nope.safetensors --out " + dir_ + "/x.npy " + images(), &out),
      0);
  EXPECT_NE(out.find("nope.safetensors"), std::string::npos) << out;
  EXPECT_NE(test::run_command(sgml_binary() + " embed --weights " + dir_ + "/w.safetensors --feature emb --out " +
                                  dir_ + "/x.npy " + images(),
                              &out),
            0);
  EXPECT_NE(out.find("head"), std::string::npos) << out;
  // search refuses a head's features from a file without one as embed does (it used to rank with an untrained head).
  for (const char* feature : {"emb", "fc"}) {
    EXPECT_NE(
        test::run_command(sgml_binary() + " search --weights " + dir_ + "/w.safetensors --image-size 64 --gallery " +
                              dir_ + " --feature " + feature + " " + dir_ + "/img_0.png",
                          &out),
        0)
        << out;
    EXPECT_NE(out.find("holds no SGML head"), std::string::npos) << out;
    EXPECT_NE(out.find("w.safetensors"), std::string::npos) << out;
  }
  EXPECT_NE(test::run_command(sgml_binary() + " embed --bogus 1", &out), 0);
  EXPECT_NE(out.find("unknown option"), std::string::npos) << out;
}

// The converter takes what training scripts save (an nn.Module under 'model') and refuses, in one line naming the
// file, what is not a plain torchvision ResNet; the engine refuses a grouped (ResNeXt-like) block the same way.
TEST(WeightsConverter, TakesCheckpointsAndRefusesWhatIsNoPlainResNet) {
  SGML_SKIP_WITHOUT_TORCH();
  const std::string dir = test::scratch_dir("converter");
  test::run_reference("converter_inputs.py", {dir});
  const std::string convert = test::reference_python() + " " + test::source_dir() + "/tools/convert_torchvision.py ";
  std::string out;
  for (const char* name : {"plain", "nested", "module", "all_half"})
    ASSERT_EQ(test::run_command(convert + dir + "/" + name + ".pth " + dir + "/" + name + ".safetensors", &out), 0)
        << name << ": " << out;
  const TensorMap plain = load_safetensors(dir + "/plain.safetensors");
  for (const char* other : {"nested", "module"}) {  // a training script's checkpoint; DataParallel's prefix
    const TensorMap same = load_safetensors(dir + "/" + other + ".safetensors");
    ASSERT_EQ(plain.size(), same.size()) << other;
    for (const auto& [name, t] : plain) {
      ASSERT_TRUE(same.count(name)) << other << ": " << name;
      EXPECT_EQ(t.shape(), same.at(name).shape()) << name;
      if (t.dtype() == DType::F32) EXPECT_EQ(t.to_vector(), same.at(name).to_vector()) << name;
    }
  }
  // The half copy's counters come back as integers (the engine loads only I64 ones), its weights as float32.
  const TensorMap half = load_safetensors(dir + "/all_half.safetensors");
  EXPECT_EQ(half.at("bn1.num_batches_tracked").dtype(), plain.at("bn1.num_batches_tracked").dtype());
  EXPECT_EQ(half.at("conv1.weight").dtype(), DType::F32);
  const auto expect_refused = [&](const std::string& input, const std::string& output, const std::string& needle) {
    EXPECT_EQ(test::run_command(convert + input + " " + output, &out), 1) << out;
    EXPECT_NE(out.find("error: "), std::string::npos) << out;
    EXPECT_NE(out.find(needle), std::string::npos) << "expected '" << needle << "' in:\n" << out;
    EXPECT_EQ(out.find("Traceback"), std::string::npos) << out;
  };
  expect_refused(dir + "/not_tensor.pth", dir + "/x.safetensors",
                 dir + "/not_tensor.pth: the state_dict (under 'state_dict') holds 'extra', a list");
  expect_refused(dir + "/prefixed.pth", dir + "/x.safetensors", "no conv1.weight among its 122 tensors (backbone.");
  expect_refused(dir + "/grouped.pth", dir + "/x.safetensors",
                 "a ResNet variant (layer1.0.conv1.weight [128, 64, 1, 1]");
  expect_refused(dir + "/plain.pth", dir + "/nowhere/x.safetensors", "the folder " + dir + "/nowhere does not exist");
  expect_refused(dir + "/doubled.pth", dir + "/x.safetensors",
                 "the keys 'conv1.weight' and 'module.conv1.weight' both give 'conv1.weight'");
  EXPECT_FALSE(std::filesystem::exists(dir + "/x.safetensors"));
  // An output that cannot be written (a folder) is an error, and no temporary file is left beside it.
  std::filesystem::create_directories(dir + "/taken.safetensors");
  expect_refused(dir + "/plain.pth", dir + "/taken.safetensors", dir + "/taken.safetensors: cannot be written");
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos) << entry.path();

  EXPECT_NE(test::run_command(sgml_binary() + " embed --weights " + dir +
                                  "/grouped.safetensors --image-size 32 --out " + dir + "/x.npy " + dir + "/none.png",
                              &out),
            0);
  EXPECT_NE(out.find("'" + dir + "/grouped.safetensors' holds a ResNet variant: its first block has "
                     "layer1.0.conv1.weight [128, 64, 1, 1] and layer1.0.conv2.weight [128, 4, 3, 3]"),
            std::string::npos) << out;
}

}  // namespace
