// The trainer never writes a non-finite model: a checkpoint (or --save file) of a state holding NaN or infinity is
// refused with the tensors named, and the checkpoint already on disk stays as it was. (A loss that becomes
// non-finite is covered through the program in test_cli_validation.cpp.)
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>

#include "engine/check.h"
#include "tests/support/test_support.h"
#include "training/trainer.h"

using namespace sgml;

namespace {

namespace fs = std::filesystem;

// Two classes of two random 32 px images per batch, three attributes.
class RandomBatches : public BatchSource {
 public:
  TrainBatch batch(int64_t step) override {
    TrainBatch b;
    b.images = test::random_tensor({4, 3, 32, 32}, unsigned(step) + 1);
    b.labels = {0, 0, 1, 1};
    b.attributes = Tensor::from_vector({1, 0, 1, 1, 0, 1, 0, 1, 0, 0, 1, 0}, {4, 3});
    return b;
  }
  int64_t steps_per_epoch() const override { return 1; }
  int num_attributes() const override { return 3; }
};

TrainConfig tiny_config(const std::string& out) {
  TrainConfig c;
  c.model = "resnet18";
  c.no_pretrained = true;
  c.image_size = 32;
  c.device = "cpu";
  c.classes_per_batch = 2;
  c.images_per_class = 2;
  c.lr = 1e-3;
  c.steps = 1;
  c.out_dir = out;
  return c;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(TrainerFinite, SaveRefusesANonFiniteModel) {
  const std::string dir = test::scratch_dir("save");
  Trainer trainer(tiny_config(dir), std::make_unique<RandomBatches>());
  trainer.initialise_model();
  trainer.save(dir + "/good.safetensors");  // finite: written
  ASSERT_TRUE(fs::exists(dir + "/good.safetensors"));
  trainer.model().store().flat_params().data()[7] = NAN;
  const std::string message = message_of([&] { trainer.save(dir + "/good.safetensors"); });
  EXPECT_NE(message.find("non-finite"), std::string::npos) << message;
  EXPECT_NE(message.find("1 of"), std::string::npos) << message;  // the count of bad values in the named tensor
  // The checkpoint on disk is still the finite one.
  EXPECT_NO_THROW(load_checkpoint(dir + "/good.safetensors"));
}

TEST(TrainerFinite, RunStopsBeforeCheckpointingADivergedState) {
  // A NaN in a batch-norm running variance: the training-mode forward does not read it, so the loss stays finite,
  // the way a diverged update can go unseen by the loss for a step. The end-of-run checkpoint must not be written.
  const std::string dir = test::scratch_dir("run");
  Trainer trainer(tiny_config(dir), std::make_unique<RandomBatches>());
  trainer.initialise_model();
  Tensor running_var = trainer.model().store().state_dict().at("bn1.running_var");
  running_var.data()[0] = NAN;
  const std::string message = message_of([&] { trainer.run(); });
  EXPECT_NE(message.find("training stopped after step 1"), std::string::npos) << message;
  EXPECT_NE(message.find("bn1.running_var"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(dir + "/last.safetensors"));
}

}  // namespace
