// The SGML network (paper Fig. 3): a ResNet backbone, then the head on the pooled feature:
//   head.fc   (F -> 1024, ReLU)
//   head.emb  (1024 -> 512)        the embedding branch
//   head.attr (1024 -> K)          the attribute branch; sigmoid gives p(a|x)
// The three features of the paper's Table II are `conv` (pooled backbone), `fc` (1024-d after ReLU) and `emb`.
// Divide & Conquer's head (--head linear, its authors' network) is one layer on the pooled feature instead:
//   head.emb  (F -> d)             each learner's rows initialised on their own (Xavier normal, gain 1)
// with no `fc` feature and no attribute branch (only the losses without attributes train it).
#pragma once
#include <memory>
#include <random>
#include <string>

#include "engine/parameter_store.h"
#include "models/modules.h"
#include "models/resnet.h"

namespace sgml {

enum class HeadKind { Sgml, Linear };
HeadKind parse_head(const std::string& name);  // "sgml", "linear"

// How the linear head's embedding layer starts (HeadKind::Linear): each learner's rows Xavier normal with gain 1 (the
// D&C CVPR code, --embedding-init xavier), or PyTorch's nn.Linear default for the whole layer, weight and bias
// uniform in +-1/sqrt(F) (their TPAMI follow-up's default, --embedding-init torch).
enum class EmbeddingInit { XavierPerLearner, TorchDefault };
EmbeddingInit parse_embedding_init(const std::string& name);  // "xavier", "torch"
// How D&C's learned masks start: all ones, or one draw of N(0.9, 0.7) per dimension copied to every learner (the
// follow-up's --masking-init normal: its first mask, duplicated as learners are added).
enum class MaskInit { Ones, Normal };
MaskInit parse_mask_init(const std::string& name);  // "ones", "normal"

struct SgmlModelConfig {
  std::string arch = "resnet101";
  int num_attributes = 1;  // K
  int fc_dim = 1024;
  int embedding_dim = 512;
  unsigned seed = 0;       // initialisation of whatever no weights file provides
  HeadKind head = HeadKind::Sgml;
  EmbeddingInit embedding_init = EmbeddingInit::XavierPerLearner;  // the linear head's
  // Frozen batch norm (standard when fine-tuning for metric learning; Divide & Conquer freezes every BN layer): in
  // training, every BN layer normalises with its running statistics and leaves them unchanged; gradients still
  // flow through it to the layers below, and gamma and beta still learn.
  bool frozen_batch_norm = false;
  // Learned per-class boundaries of the margin loss (--learn-beta, losses/margin_loss.h): > 0 adds the parameter
  // "loss.margin_beta" (margin_classes), initialised to margin_beta. Not part of the network: eval ignores it.
  int margin_classes = 0;
  float margin_beta = 1.2f;
  // Divide & Conquer's learners (layers/embedding_slices.h): with K > 1 the `emb` feature that extract() returns is
  // the concatenation of the K L2-normalised slices (what the method evaluates), forward()'s stays raw.
  int learners = 1;
  // Divide & Conquer's learned masks (the authors' TPAMI follow-up; layers/embedding_slices.h): > 0 adds the
  // parameter "loss.learner_masks" (learner_masks, embedding_dim), initialised by mask_init, with learners left at 1.
  // Like loss.margin_beta, not part of the network: extract() and eval ignore it (the authors evaluate the
  // unmasked embedding).
  int learner_masks = 0;
  MaskInit mask_init = MaskInit::Ones;
  // Dropout on the pooled backbone feature before head.fc in training (Divide & Conquer's 0.01 before its embedding
  // layer); the mask comes from set_dropout_seed's seed (layers/dropout.h).
  float dropout = 0.0f;
};

struct SgmlOutputs {
  Variable conv;         // (N, F)
  Variable fc;           // (N, 1024); undefined with the linear head
  Variable emb;          // (N, 512), not normalised
  Variable attr_logits;  // (N, K); undefined with the linear head
};

enum class FeatureKind { Conv, Fc, Emb };
FeatureKind parse_feature(const std::string& name);  // "conv", "fc", "emb"

class SgmlModel {
 public:
  explicit SgmlModel(const SgmlModelConfig& config);

  SgmlOutputs forward(const Variable& images /*(N,3,H,W)*/, bool training);
  // The seed of the next training forward's dropout mask (the trainer's: a function of the run's seed and step).
  void set_dropout_seed(uint64_t seed) { dropout_seed_ = seed; }
  // Eval mode without the tape: the requested feature only (the branches not needed are skipped).
  Tensor extract(const Tensor& images, FeatureKind feature);

  // Loads a safetensors file with torchvision names. Backbone keys are required; `fc.*` (torchvision's
  // classifier) is ignored; num_batches_tracked may be absent (timm/HF files). When require_head is false the
  // head may be absent as a whole and then keeps its PyTorch-default initialisation; a partial head is an error.
  // Returns true when the file held the head.
  bool load_weights(const std::string& path, bool require_head);
  bool load_weights(const TensorMap& tensors, const std::string& source, bool require_head);
  void save_weights(const std::string& path) const;

  // The learned margin-loss boundaries (margin_classes), or an undefined Variable.
  const Variable& margin_beta() const { return margin_beta_; }
  // The learned masks (learner_masks, embedding_dim), or an undefined Variable.
  const Variable& learner_masks() const { return learner_masks_; }
  ParameterStore& store() { return store_; }
  const ParameterStore& store() const { return store_; }
  const SgmlModelConfig& config() const { return config_; }
  int feature_dim(FeatureKind feature) const;
  void to(Device device) { store_.to(device); }
  Device device() const { return store_.device(); }

 private:
  SgmlModelConfig config_;
  ParameterStore store_;
  std::mt19937 rng_;
  std::unique_ptr<ResNetBackbone> backbone_;
  // Reset to a fresh initialisation (a backbone-only weights file): PyTorch's default, then the linear head's
  // per-learner Xavier rows unless embedding_init says otherwise.
  void reset_head();
  std::unique_ptr<Linear> head_fc_, head_emb_, head_attr_;  // fc and attr: SGML head only
  Variable margin_beta_, learner_masks_;
  uint64_t dropout_seed_ = 0;
};

}  // namespace sgml
