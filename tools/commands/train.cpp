// sgml train DATASET: train an SGML model (paper Sec. III-V) on demo, deepfashion, cub, sop or cars.
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>

#include "engine/check.h"
#include "retrieval/plot.h"
#include "tools/commands/commands.h"
#include "tools/commands/option_groups.h"
#include "tools/commands/train_options.h"
#include "data/project_paths.h"
#include "training/dataset_batches.h"
#include "data/dataset.h"
#include "data/dataset_info.h"
#include "data/path_text.h"
#include "data/output_paths.h"
#include "training/config_fields.h"
#include "training/dnc.h"
#include "training/evaluation.h"
#include "training/interrupt.h"
#include "training/progress.h"
#include "training/train_config.h"
#include "training/trainer.h"

namespace sgml {

namespace {

// Removes the run folder this run made if it is still empty when the run ends (a run refused after the folder was
// made, for a bad dataset or option, left an empty runs/DATASET behind).
class RemoveIfLeftEmpty {
 public:
  explicit RemoveIfLeftEmpty(const std::string& folder) {
    std::error_code ec;
    if (!std::filesystem::exists(folder, ec) && !ec) folder_ = folder;
  }
  ~RemoveIfLeftEmpty() {
    std::error_code ec;
    if (!folder_.empty() && std::filesystem::is_empty(folder_, ec) && !ec) std::filesystem::remove(folder_, ec);
  }
  RemoveIfLeftEmpty(const RemoveIfLeftEmpty&) = delete;
  RemoveIfLeftEmpty& operator=(const RemoveIfLeftEmpty&) = delete;

 private:
  std::string folder_;  // empty: the folder was there before
};

// The file torchvision downloads for a model's ImageNet weights (IMAGENET1K_V1), named in the explanation below.
std::string torchvision_weights_file(const std::string& model) {
  static const std::map<std::string, std::string> files = {
      {"resnet18", "resnet18-f37072fd.pth"},   {"resnet34", "resnet34-b627a593.pth"},
      {"resnet50", "resnet50-0676ba61.pth"},   {"resnet101", "resnet101-63fe2227.pth"},
      {"resnet152", "resnet152-394f9c45.pth"}};
  const auto it = files.find(model);
  return it == files.end() ? "torchvision's " + model + " .pth" : it->second;
}

// Pretrained weights: --weights, else weights/MODEL.safetensors when present; else an explanation.
void resolve_weights(TrainConfig& c) {
  // A resumed run takes its model from the checkpoint.
  if (c.resume || !c.init.empty() || !c.weights.empty() || c.no_pretrained) return;
  const std::string default_path = project_path("weights/" + c.model + ".safetensors");
  if (std::filesystem::exists(default_path)) {
    c.weights = default_path;
    return;
  }
  SGML_FAIL("no pretrained weights for ", c.model, ": expected ", default_path,
            ".\nGet torchvision's ImageNet weights on a machine with internet and convert them:\n"
            "  /usr/bin/python3 tools/convert_torchvision.py ", torchvision_weights_file(c.model), " weights/", c.model,
            ".safetensors\n"
            "(details in weights/README.md), pass --weights FILE, or --no-pretrained to train from scratch.");
}

// loss.png and recall_at_1.png in `out`, from the whole metrics log (a resumed run's from its first step).
void plot_curves(const std::string& out, const std::string& metrics_path) {
  if (out.empty() || metrics_path.empty()) return;
  const TrainingCurves c = read_training_curves(metrics_path);
  if (!c.steps.empty())
    write_line_plot_png(out + "/loss.png", {PlotSeries{"loss", c.steps, c.losses}},
                        PlotOptions{640, 400, "Training loss", "step", "loss", false, {}});
  if (!c.epochs.empty())
    write_line_plot_png(out + "/recall_at_1.png", {PlotSeries{"Recall@1", c.epochs, c.recalls}},
                        PlotOptions{640, 400, "Recall@1 on the test set", "epoch", "Recall@1", false, {}});
}

// The shipped defaults of a run on `dataset_kind`: configs/DATASET.json, then with --method dnc (`method`: as given,
// else as that file says) configs/dnc-DATASET.json, Divide & Conquer's settings, over them.
void apply_dataset_defaults(Options& opt, const std::string& dataset_kind, std::optional<std::string> method) {
  for (const std::string& name : {dataset_kind, "dnc-" + dataset_kind}) {
    if (name != dataset_kind && method.value_or(opt.get("method")) != "dnc") continue;
    const std::string path = project_path("configs/" + name + ".json");
    if (std::filesystem::exists(path)) opt.apply_defaults_file(path, "configs/" + name + ".json");
  }
}

// `sgml train DATASET --help`: the usage shows the defaults that run would have.
void apply_defaults_for_help(Options& opt, const std::map<std::string, std::string>& given) {
  if (opt.positional().empty()) return;
  try {
    const std::string kind = dataset_kind_name(parse_dataset_kind(opt.positional()[0]));
    const auto method = given.find("method");
    apply_dataset_defaults(opt, kind, method == given.end() ? std::nullopt : std::optional(method->second));
  } catch (const Error&) {  // not a dataset (or a shipped file that does not read): the built-in defaults
  }
}

// Everything after the options were parsed.
int train_with_options(Options& opt) {
  const std::string dataset_kind = read_dataset_options(opt, "sgml train cub|deepfashion|sop|cars|demo|demo-cub").kind;
  apply_dataset_defaults(opt, dataset_kind, std::nullopt);
  TrainConfig config = train_config_from_options(opt);
  for (const std::string& note : unused_option_notes(opt, config)) std::fprintf(stderr, "%s\n", note.c_str());
  for (const std::string& note : dnc_schedule_notes(config))
    std::fprintf(stderr, "%s%s\n", note.c_str(), opt.config_origins(note).c_str());
  if (config.frozen_bn && config.no_pretrained && config.init.empty() && config.weights.empty() && !config.resume) {
    const std::string note = "note: --frozen-bn from scratch (--no-pretrained): batch norm keeps its initial "
                             "statistics (mean 0, variance 1) for the whole run; --frozen-bn false learns them";
    std::fprintf(stderr, "%s%s\n", note.c_str(), opt.config_origins(note).c_str());
  }
  if (const std::string note = eval_resize_note(opt, config); !note.empty()) std::fprintf(stderr, "%s\n", note.c_str());
  config.dataset = dataset_kind;
  if (config.out_dir.empty()) config.out_dir = project_path("runs/" + dataset_kind);
  dataset_dir(dataset_kind, config.data_dir);  // a missing --data is said before missing weights
  resolve_weights(config);
  // Before the dataset is read: a run folder that cannot be made is the user's to fix, in plain words.
  const RemoveIfLeftEmpty remove_if_refused(config.out_dir);
  create_output_folder(config.out_dir, "run folder");

  const Dataset dataset =
      load_dataset(dataset_kind, config.data_dir, parse_crop_boxes(config.crop_boxes), uses_bce(config.loss));
  std::fprintf(stderr, "sgml train %s: %zu training images of %d classes, %d attributes; configuration:\n%s",
               dataset_kind.c_str(), dataset.train.size(), dataset.num_train_classes(), dataset.num_attributes(),
               format_config(config).c_str());

  EvaluationSettings eval;
  eval.image_size = config.image_size;
  eval.eval_resize = config.eval_resize;
  eval.feature = parse_feature(config.eval_feature);
  eval.workers = config.workers;
  eval.skip_bad_images = config.skip_bad_images;
  // NMI where the dataset's papers report it and the clustering is cheap (CUB, Cars196: ~100 test classes); In-shop
  // (3,985 items) and SOP (11,316 classes) get it from `sgml eval` only.
  const DatasetKind kind_of_run = parse_dataset_kind(dataset_kind);
  eval.compute_nmi =
      kind_of_run == DatasetKind::Cub || kind_of_run == DatasetKind::DemoCub || kind_of_run == DatasetKind::Cars;
  const bool has_test = !dataset.query.empty() || dataset.test.size() >= 2;
  Trainer::Evaluator evaluator;
  std::shared_ptr<const ImageCache> eval_cache;  // chosen once for all of the run's evaluations
  std::string eval_cache_note;
  if (has_test && config.eval_every >= 0 && config.batch_plan.empty()) {
    eval_cache = evaluation_cache(dataset, eval, &eval_cache_note);
    evaluator = [&, noted = false](SgmlModel& model, int epoch) mutable {
      const Evaluation e = evaluate_model(model, dataset, eval, eval_cache);
      nlohmann::json metrics = e.to_json();
      metrics["feature"] = config.eval_feature;  // what was measured, as sgml eval's result says it
      metrics["crop_boxes"] = crops_to_boxes(parse_dataset_kind(dataset_kind), parse_crop_boxes(config.crop_boxes));
      const std::string when = epoch == 0 ? std::string("before training") : "epoch " + std::to_string(epoch);
      std::fprintf(stderr, "%s: %s\n", when.c_str(), metrics.dump().c_str());
      if (!noted)  // the same at every evaluation: once
        for (const std::string& note : e.recall_notes()) std::fprintf(stderr, "%s\n", note.c_str());
      noted = true;
      return metrics;
    };
  }
  auto batches = std::make_unique<DatasetBatchSource>(dataset, config);
  const DatasetBatchSource* source = batches.get();
  Trainer trainer(config, std::move(batches), evaluator);
  trainer.initialise_model();
  const std::string last = config.out_dir + "/last.safetensors";
  if (config.resume) {
    if (!std::filesystem::exists(last))
      SGML_FAIL("--resume: no checkpoint at ", last,
                " (a run stopped before its first checkpoint, or another --out: "
                "start it again without --resume)");
    trainer.resume_from(last);
    std::fprintf(stderr, "resumed from %s at step %lld\n", last.c_str(), (long long)trainer.progress().step);
  }
  // After --resume, which may stop using a cache the run began without.
  if (!source->cache_note().empty()) std::fprintf(stderr, "%s\n", source->cache_note().c_str());
  // The evaluation transform may read a cache that the training transform cannot (--train-crop random-resized), or
  // the other way round (--eval-resize): said where the two differ.
  if (evaluator && !eval_cache_note.empty() && eval_cache_note != source->cache_note())
    std::fprintf(stderr, "evaluation: %s\n", eval_cache_note.c_str());
  // Before any work (after --resume, which decides whether the cache serves): a missing file would otherwise stop
  // the run when first drawn, perhaps epochs in. The images that a decoded-image cache serves need no files: the
  // training images where training reads it, the test images where evaluation does; the test images only where the
  // run evaluates.
  if (const MissingImages missing =
          missing_images(dataset, /*training=*/!source->uses_cache(), /*test=*/evaluator && !eval_cache);
      missing.count > 0) {
    std::string first;
    for (const std::string& e : missing.examples) first += "\n  " + printable_utf8(e);
    if (!config.skip_bad_images)
      SGML_FAIL(missing.count, " image file", missing.count > 1 ? "s" : "", " of the dataset in '", dataset.root,
                "' ", missing.count > 1 ? "are" : "is", " missing (`sgml info ", dataset_kind,
                " --data DIR` lists them):", first,
                "\nRestore them, or train with --skip-bad-images to leave them out where they are drawn.");
    std::fprintf(stderr, "note: %d image file%s of the dataset %s missing; --skip-bad-images leaves them out:%s\n",
                 missing.count, missing.count > 1 ? "s" : "", missing.count > 1 ? "are" : "is", first.c_str());
  }
  trainer.run(/*evaluate_first=*/true);  // the untrained model's figure first, to compare the trained one with
  plot_curves(config.out_dir, metrics_log_path(config));
  const TrainProgress& p = trainer.progress();
  std::fprintf(stderr, "%s: %lld steps%s; checkpoints in %s%s\n", trainer.stopped_by_signal() ? "stopped" : "done",
               (long long)p.step,
               p.best_recall_at_1 >= 0 ? (", best Recall@1 " + std::to_string(p.best_recall_at_1)).c_str() : "",
               config.out_dir.c_str(),
               p.bad_images_skipped
                   ? (" (unreadable images skipped at " + std::to_string(p.bad_images_skipped) + " draws)").c_str()
                   : "");
  // Interrupted: saved, but not done. The shell's status of a process ended by the signal (130 for Ctrl-C, 143 for
  // SIGTERM), so that `sgml train ... && sgml eval ...` stops there.
  if (trainer.stopped_by_signal()) return 128 + interrupt_signal();
  return 0;
}

}  // namespace

int run_train(int argc, char** argv) {
  Options opt("train", "cub|deepfashion|sop|cars|demo|demo-cub [options]",
              "Trains the SGML network: ResNet backbone + head (fc 1024, emb 512, attr K), soft-binomial deviance\n"
              "loss + lambda * BCE, Adam (--loss picks the objective; rank and rank-multitask use our\n"
              "reconstruction, from the paper's abstract only, of the rank-approximation loss of Schall et al. 2019;\n"
              "margin is the margin loss of Wu et al. 2017 with distance-weighted or nearest negatives).\n"
              "Defaults come from configs/DATASET.json (the paper's settings; with --method dnc then\n"
              "configs/dnc-DATASET.json, Divide & Conquer's), then\n"
              "--config FILE, then the command line. Writes checkpoints (last, best), metrics.jsonl, config.json\n"
              "and loss/Recall@1 plots to the run directory (default runs/DATASET); an earlier run's files there\n"
              "are moved into its subfolder earlier-N first, unless --resume continues that run.\n"
              "`sgml train DATASET --help` shows the defaults of a run on DATASET.");
  declare_train_options(opt);
  opt.on_help(apply_defaults_for_help);
  if (!opt.parse(argc, argv, 2)) return 0;
  // An error about options that a config file set (--config, or configs/ for the dataset) says where they were set.
  try {
    return train_with_options(opt);
  } catch (const Error& e) {
    throw Error(e.what() + opt.config_origins(e.what()));
  }
}

}  // namespace sgml
