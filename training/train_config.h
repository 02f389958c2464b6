// Everything a training run is configured by. Filled from the command line (and --config / configs/DATASET.json),
// saved as JSON beside the run and inside every checkpoint, so that eval and resume know the model it trained.
// The members' initial values are the defaults; training/config_fields.h describes each member once (name, help,
// bounds) for the options, the JSON and the printed configuration.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "losses/sgml_objective.h"  // LossMode, Sampling

namespace sgml {

struct TrainConfig {
  std::string dataset = "demo";  // demo | deepfashion | cub | sop | cars | demo-cub
  std::string data_dir;          // empty: the dataset's default folder
  // --crop-boxes: auto (the dataset's protocol: CUB cropped, Cars196 whole; crops_to_boxes) | true | false
  std::string crop_boxes = "auto";
  std::string model = "resnet101";
  std::string weights;           // pretrained backbone (torchvision names)
  bool no_pretrained = false;
  std::string init;              // every parameter and buffer, head included (deterministic mode)
  int image_size = 224;
  std::string device = "auto";
  std::string precision = "fp32";  // engine/math_precision.h: fp32 | tf32
  LossMode loss = LossMode::Sgml;
  Sampling sampling = Sampling::BatchWise;
  int classes_per_batch = 41, images_per_class = 4, triplets_per_batch = 60;
  std::string class_balance = "fixed";  // fixed | adaptive: short classes and clusters (data/samplers.h)
  double alpha = 2.0, beta = 0.5, lambda = 1.0;
  bool sgs_grad = true;          // gradients flow into the attribute branch through g
  // The rank-approximation loss (--loss rank, rank-multitask; losses/rank_loss.h, our reconstruction from the
  // abstract of Schall et al. 2019): temperature of the smoothed rank and scale of the transfer exp(-r / rho).
  double rank_tau = 0.01, rank_rho = 0.2;  // tau by the demo study in README (was 0.05)
  // The margin loss of Wu et al. 2017 (--loss margin; losses/margin_loss.h): margin m, boundary beta, and the
  // negative sampler (distance-weighted or nearest).
  double margin = 0.2, margin_beta = 1.2;
  std::string sampler = "distance";  // distance | distance-distinct | nearest
  bool learn_beta = false;           // one learned beta per training class (a parameter of the model's store)
  double beta_lr = 5e-4;             // their Adam rate (their own group, no weight decay; see config_fields.cpp)
  double beta_nu = 0.0;              // their L1 penalty (losses/sgml_objective.h)
  // Divide & Conquer (Sanakoyeu et al. 2019; training/dnc.h): K learners on slices of the embedding, batches from
  // k-means clusters of the training images re-clustered every few epochs; full-embedding and fine-tune phases.
  std::string method = "sgml";       // sgml | dnc
  int learners = 1;
  int recluster_every = 2;
  int full_embedding_epoch = 0;      // 0: never; else after this many epochs (training/dnc.h)
  int finetune_epoch = 0;            // 0: never; else after this many epochs
  std::string batches_per_epoch = "plain";  // plain | max | min: clustered epochs' length (data/samplers.h)
  // How the learners divide the embedding: slices (the CVPR paper) | learned (the TPAMI follow-up's masks, one per
  // learner over all d dimensions, with their own learning rate and an orthogonality term; losses/mask_orthogonality.h)
  std::string learner_masks = "slices";
  std::string mask_init = "ones";  // ones | normal (models/sgml_model.h MaskInit)
  // flat (K learners from the first clustering) | hierarchical (the follow-up's top-down hierarchy: 1, 2, 4, ... K,
  // doubling at each re-clustering; training/dnc.h)
  std::string division = "flat";
  bool stop_reclustering = false;  // the follow-up's --stop-recluster (training/dnc.h)
  int freeze_backbone_epochs = 0;    // the follow-up's --mod-epoch-freeze: backbone frozen the first N epochs after a
                                     // re-clustering (only the embedding layer, and masks, learn then)
  double mask_lr_mult = 100.0;       // the masks' learning rate is this times --lr (their README's command: 100)
  double mask_lambda = 0.01;         // weight of the masks' orthogonality term (their README's command: 0.01)
  int embedding_dim = 512;
  std::string head = "sgml";  // sgml (fc 1024 + ReLU, emb, attr) | linear (one layer F -> d; models/sgml_model.h)
  std::string embedding_init = "xavier";  // xavier | torch: the linear head's (models/sgml_model.h EmbeddingInit)
  double dropout = 0.0;              // on the pooled backbone feature in training (models/sgml_model.h)
  double lr = 1e-4, weight_decay = 0.0;
  std::string lr_schedule = "constant";  // constant | step | cosine
  int lr_step_epochs = 10;
  double lr_gamma = 0.1;
  int warmup_steps = 0;
  int epochs = 10;
  int steps = 0;  // > 0: the run's length in steps (overrides epochs; the lr schedule spans it)
  unsigned seed = 0;
  std::string out_dir;           // run directory (checkpoints, metrics, config, plots)
  bool resume = false;
  std::string batch_plan;        // one line of training-image indices per step
  bool augment = true;
  std::string train_crop = "sgml";  // sgml | random-resized: the augmentation's crop (data/image_transform.h)
  int eval_resize = 0;              // 0: the region resized to S x S; R: Resize(R) + CenterCrop(S)
  bool frozen_bn = false;        // every BN layer in eval mode (fixed statistics), gradients still flow
  std::string metrics_file;      // JSON lines, one object per step
  std::string save_file;         // all parameters and buffers after the last step
  int workers = 0;               // 0: the machine's cores
  int eval_every = 1;            // epochs between evaluations (0: only at the end)
  bool skip_bad_images = false;
  std::string eval_feature = "emb";
  int checkpoint_every = 0;      // steps between periodic checkpoints (0: at epoch ends only)

  int batch_size() const {
    return sampling == Sampling::BatchWise ? classes_per_batch * images_per_class : 3 * triplets_per_batch;
  }
  nlohmann::json to_json() const;
  // Reads what to_json wrote (missing fields keep their defaults). `source` names where it came from (e.g. the
  // checkpoint file) in the errors, which name the field and the type it should have.
  static TrainConfig from_json(const nlohmann::json& j, const std::string& source);
};

const char* loss_mode_name(LossMode m);
LossMode parse_loss_mode(const std::string& s);
const char* sampling_name(Sampling s);
Sampling parse_sampling(const std::string& s);
// TrainConfig::crop_boxes as load_dataset takes it: "auto" -> nullopt (the dataset's protocol), "true", "false".
std::optional<bool> parse_crop_boxes(const std::string& s);

// The checks across fields (each field's own bounds are in its table row): the batch fits, the run has a length,
// the rank and margin losses have batch-wise sampling.
void check_train_config(const TrainConfig& c);
// The losses that use attributes (sgml: the SGS mapping and the BCE; multitask, rank-multitask and attribute: the
// BCE) refuse a dataset without any (SOP, Cars196): the error names the dataset and says to use --loss metric or
// rank.
void check_loss_fits_dataset(const TrainConfig& c, int num_attributes);

}  // namespace sgml
