#include "models/sgml_model.h"

#include <cmath>
#include <random>

#include "engine/check.h"
#include "layers/embedding_slices.h"
#include "models/arch_detect.h"

namespace sgml {

namespace {
bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

HeadKind parse_head(const std::string& name) {
  if (name == "sgml") return HeadKind::Sgml;
  if (name == "linear") return HeadKind::Linear;
  SGML_FAIL("unknown head '", name, "': expected sgml or linear");
}

EmbeddingInit parse_embedding_init(const std::string& name) {
  if (name == "xavier") return EmbeddingInit::XavierPerLearner;
  if (name == "torch") return EmbeddingInit::TorchDefault;
  SGML_FAIL("unknown embedding initialisation '", name, "': expected xavier or torch");
}

MaskInit parse_mask_init(const std::string& name) {
  if (name == "ones") return MaskInit::Ones;
  if (name == "normal") return MaskInit::Normal;
  SGML_FAIL("unknown mask initialisation '", name, "': expected ones or normal");
}

namespace {
// Divide & Conquer initialises each learner's rows of the embedding layer on their own: Xavier normal with gain 1,
// std = sqrt(2 / (fan_in + fan_out)) with fan_out the learner's row count (weight (d, F)).
void xavier_normal_per_learner(Linear& layer, int learners, std::mt19937& rng) {
  const int d = static_cast<int>(layer.weight.value().dim(0)), fan_in = static_cast<int>(layer.weight.value().dim(1));
  Tensor host = layer.weight.value().to(Device::cpu()).clone();
  float* w = host.data();
  for (int k = 0; k < learners; ++k) {
    const auto [begin, end] = learner_columns(k, learners, d);
    std::normal_distribution<float> dist(0.0f, std::sqrt(2.0f / float(fan_in + (end - begin))));
    for (int64_t i = int64_t(begin) * fan_in; i < int64_t(end) * fan_in; ++i) w[i] = dist(rng);
  }
  layer.weight.value().copy_from(host);
}

const char* kNoFcFeature = "the linear head (--head linear) has no fc feature: use emb or conv";
}  // namespace

FeatureKind parse_feature(const std::string& name) {
  if (name == "conv") return FeatureKind::Conv;
  if (name == "fc") return FeatureKind::Fc;
  if (name == "emb") return FeatureKind::Emb;
  SGML_FAIL("unknown feature '", name, "': expected conv, fc or emb");
}

SgmlModel::SgmlModel(const SgmlModelConfig& config) : config_(config), rng_(config.seed) {
  SGML_CHECK(config.num_attributes >= 1, "the attribute branch needs at least one attribute, got ",
             config.num_attributes);
  backbone_ = std::make_unique<ResNetBackbone>(store_, resnet_spec(config.arch), rng_);
  check_learner_slices(config.learners, config.embedding_dim);
  if (config.head == HeadKind::Linear) {
    head_emb_ = std::make_unique<Linear>(store_, "head.emb.", backbone_->feature_dim(), config.embedding_dim, rng_);
    if (config.embedding_init == EmbeddingInit::XavierPerLearner)
      xavier_normal_per_learner(*head_emb_, config.learners, rng_);
  } else {
    head_fc_ = std::make_unique<Linear>(store_, "head.fc.", backbone_->feature_dim(), config.fc_dim, rng_);
    head_emb_ = std::make_unique<Linear>(store_, "head.emb.", config.fc_dim, config.embedding_dim, rng_);
    head_attr_ = std::make_unique<Linear>(store_, "head.attr.", config.fc_dim, config.num_attributes, rng_);
  }
  SGML_CHECK(config.margin_classes >= 0, "margin_classes must be >= 0, got ", config.margin_classes);
  if (config.margin_classes > 0)
    margin_beta_ = store_.add_parameter("loss.margin_beta", Tensor::full({config.margin_classes}, config.margin_beta));
  SGML_CHECK(config.learner_masks >= 0 && (config.learner_masks == 0 || config.learners == 1),
             "learned masks replace the learners' slices: learner_masks ", config.learner_masks, " with learners ",
             config.learners);
  if (config.learner_masks > 0) {
    Tensor masks = Tensor::full({config.learner_masks, config.embedding_dim}, 1.0f);
    if (config.mask_init == MaskInit::Normal) {
      std::normal_distribution<float> dist(0.9f, 0.7f);
      for (int64_t j = 0; j < config.embedding_dim; ++j) masks.data()[j] = dist(rng_);
      for (int k = 1; k < config.learner_masks; ++k)
        std::copy(masks.data(), masks.data() + config.embedding_dim, masks.data() + k * config.embedding_dim);
    }
    learner_masks_ = store_.add_parameter("loss.learner_masks", masks);
  }
}

int SgmlModel::feature_dim(FeatureKind feature) const {
  switch (feature) {
    case FeatureKind::Conv: return backbone_->feature_dim();
    case FeatureKind::Fc:
      SGML_CHECK(head_fc_, kNoFcFeature);
      return config_.fc_dim;
    case FeatureKind::Emb: return config_.embedding_dim;
  }
  return 0;
}

SgmlOutputs SgmlModel::forward(const Variable& images, bool training) {
  SgmlOutputs out;
  // The backbone's `training` only selects the batch norm mode (ResNet has no dropout).
  out.conv = backbone_->forward(images, training && !config_.frozen_batch_norm);
  const Variable pooled = training ? fn::dropout(out.conv, config_.dropout, dropout_seed_) : out.conv;
  if (!head_fc_) {  // the linear head
    out.emb = (*head_emb_)(pooled);
    return out;
  }
  out.fc = fn::relu((*head_fc_)(pooled));
  out.emb = (*head_emb_)(out.fc);
  out.attr_logits = (*head_attr_)(out.fc);
  return out;
}

Tensor SgmlModel::extract(const Tensor& images, FeatureKind feature) {
  NoGradGuard no_grad;
  Variable conv = backbone_->forward(Variable(images), /*training=*/false);
  if (feature == FeatureKind::Conv) return conv.value();
  SGML_CHECK(head_fc_ || feature != FeatureKind::Fc, kNoFcFeature);
  Variable fc = head_fc_ ? fn::relu((*head_fc_)(conv)) : conv;
  if (feature == FeatureKind::Fc) return fc.value();
  Variable emb = (*head_emb_)(fc);
  if (config_.learners > 1) emb = concatenated_learner_embedding(emb, config_.learners, 1.0f);
  return emb.value();
}

bool SgmlModel::load_weights(const std::string& path, bool require_head) {
  return load_weights(load_weights_file(path), path, require_head);  // validated; NaN/inf refused
}

bool SgmlModel::load_weights(const TensorMap& tensors, const std::string& path, bool require_head) {
  bool any_head = false;
  for (const auto& [name, t] : tensors) any_head = any_head || starts_with(name, "head.");
  // A head of the other kind: say which, rather than which keys or shapes differ.
  const bool file_linear = holds_linear_head(tensors), file_sgml = tensors.count("head.fc.weight") > 0;
  if (config_.head == HeadKind::Sgml && file_linear)
    SGML_FAIL("'", path, "' holds Divide & Conquer's linear head (head.emb on the pooled feature, no head.fc): this "
              "model has SGML's head; train with --head linear");
  if (config_.head == HeadKind::Linear && file_sgml)
    SGML_FAIL("'", path, "' holds SGML's head (head.fc, head.emb, head.attr): this model has the linear head "
              "(--head linear); train with --head sgml, or start from a backbone-only file");
  // loss.* (the learned margin boundaries of a --learn-beta run, D&C's learned masks) is not part of the network:
  // ignored by a model without it (eval), optional for one with it (a file without it keeps the initial value).
  auto holds = [&](const std::string& key) {
    for (const auto& [name, p] : store_.parameters())
      if (name == key) return true;
    return false;
  };
  auto ignore = [&](const std::string& key) {
    return starts_with(key, "fc.") || (starts_with(key, "loss.") && !holds(key));
  };
  auto optional = [&](const std::string& key) {
    if (ends_with(key, "num_batches_tracked") || starts_with(key, "loss.")) return true;
    return starts_with(key, "head.") && !require_head && !any_head;
  };
  store_.load(tensors, path, ignore, optional);
  if (!any_head) reset_head();  // a backbone-only file: the head gets a fresh initialisation
  return any_head;
}

void SgmlModel::reset_head() {
  for (Linear* l : {head_fc_.get(), head_emb_.get(), head_attr_.get()})
    if (l) l->reset(rng_);
  if (config_.head == HeadKind::Linear && config_.embedding_init == EmbeddingInit::XavierPerLearner)
    xavier_normal_per_learner(*head_emb_, config_.learners, rng_);
}

void SgmlModel::save_weights(const std::string& path) const { save_safetensors(path, store_.state_dict()); }

}  // namespace sgml
