// sgml eval DATASET --checkpoint FILE: Recall@K (In-shop: queries vs gallery; CUB: leave-one-out), MAP@R and NMI.
#include <cstdio>
#include <algorithm>
#include <string>

#include "data/dataset.h"
#include "data/output_paths.h"
#include "data/path_text.h"
#include "engine/build_id.h"
#include "engine/check.h"
#include "engine/npy.h"
#include "engine/safetensors.h"
#include "retrieval/report.h"
#include "tools/commands/commands.h"
#include "tools/commands/option_groups.h"
#include "training/evaluation.h"
#include "training/model_loading.h"
#include "training/output_files.h"

namespace sgml {

namespace {

// --export PATH: the query features go to BASE.npy and the gallery's to BASE_gallery.npy, where BASE is PATH
// without its .npy suffix (PATH itself when it has none), each with its labels in FILE.labels.txt.
struct ExportPaths {
  std::string queries, gallery;
};

ExportPaths export_paths(const std::string& path) {
  const std::string suffix = ".npy";
  const bool has_suffix =
      path.size() > suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
  const std::string base = has_suffix ? path.substr(0, path.size() - suffix.size()) : path;
  return {base + suffix, base + "_gallery" + suffix};
}

// Atomically, as the features beside it: an interrupted export leaves no labels file that is cut short.
void write_labels(const std::string& path, const std::vector<const ImageRecord*>& records) {
  std::string text;
  for (const ImageRecord* r : records) text += str_cat(r->label, " ", r->item, " ", r->path, "\n");
  write_file_atomically(path, text);
}

// Each K as digits only (no sign, space or empty place between commas), below a billion.
std::vector<int> parse_ks(const std::string& text) {
  std::vector<int> ks;
  for (size_t start = 0;;) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string tok = text.substr(start, comma - start);
    const bool digits = !tok.empty() && tok.size() <= 9 &&
                        std::all_of(tok.begin(), tok.end(), [](char c) { return c >= '0' && c <= '9'; });
    const int k = digits ? std::stoi(tok) : 0;
    if (k < 1) SGML_FAIL("--k expects positive integers separated by commas (e.g. 1,10,20), got '", text, "'");
    ks.push_back(k);
    if (comma == text.size()) return ks;
    start = comma + 1;
  }
}

}  // namespace

int run_eval(int argc, char** argv) {
  Options opt("eval", "cub|deepfashion|sop|cars|demo|demo-cub --checkpoint FILE [options]",
              "Extracts features of the test images with the evaluation transform, ranks by cosine similarity and\n"
              "reports Recall@K (In-shop: each query against the gallery, K = 1,10,20,30,40,50; the others\n"
              "leave-one-out over the test set: CUB K = 1,2,4,8,16,32, SOP K = 1,10,100,1000, Cars196 K = 1,2,4,8),\n"
              "MAP@R and NMI (k-means with as many clusters as classes).");
  declare_dataset_options(opt);
  declare_inference_options(opt);
  opt.add("k", "", "comma-separated K for Recall@K", "the dataset's standard");
  opt.add_flag("no-nmi", "skip the k-means NMI (costly for In-shop's 3,985 classes on a CPU)");
  opt.add_flag("skip-bad-images",
               "leave unreadable images out of the ranking (neither query nor candidate; counted) instead of stopping");
  opt.add_flag("json", "print one JSON object with the metrics");
  opt.add("export", "", "write the query features (rows in evaluation order) to PATH (.npy appended when missing) and "
          "the gallery's beside it (a/f.npy: a/f_gallery.npy), each with its labels in FILE.labels.txt");
  opt.add("report", "", "write a retrieval report (HTML with top-5 results, Recall@K curve) to this folder");
  if (!opt.parse(argc, argv, 2)) return 0;
  const DatasetArgs dataset_args =
      read_dataset_options(opt, "sgml eval cub|deepfashion|sop|cars|demo|demo-cub --checkpoint FILE");
  const std::string& kind = dataset_args.kind;
  // Every number is checked before the (long) feature extraction starts.
  const InferenceArgs in = read_inference_options(opt);
  set_math_precision(in.precision);
  const std::string export_path = opt.get("export"), report_dir = opt.get("report");
  const std::vector<int> ks = opt.get("k").empty() ? std::vector<int>() : parse_ks(opt.get("k"));
  if (!export_path.empty()) create_parent_folder(export_paths(export_path).queries, "feature export");
  if (!report_dir.empty()) create_output_folder(report_dir, "report folder");
  const InferenceModel m = load_inference_model(opt, in);
  const LoadedModel& loaded = m.loaded;
  // As the image size, the run's own setting unless the user says either way: a run trained cropped (by --crop-boxes,
  // or on cub by its protocol) is evaluated cropped, `--crop-boxes false` evaluates it on whole images (to compare
  // with papers that do not crop) and `--crop-boxes` crops a run's evaluation that did not. The run's setting is
  // resolved for the kind evaluated: it does not impose a crop on a kind without boxes.
  const DatasetKind dataset_kind = parse_dataset_kind(kind);
  const bool run_crop = crops_to_boxes(dataset_kind, loaded.crop_boxes);
  const std::optional<bool> requested = dataset_args.crop_boxes ? dataset_args.crop_boxes : loaded.crop_boxes;
  const bool crop_boxes = crops_to_boxes(dataset_kind, requested);
  opt.set("crop-boxes", crop_boxes ? "true" : "false");
  print_configuration("eval", opt);
  if (!loaded.run_dataset.empty() && loaded.run_dataset != kind)
    std::fprintf(stderr, "note: the checkpoint's run trained on %s; this evaluates it on %s\n",
                 loaded.run_dataset.c_str(), kind.c_str());
  if (run_crop && !crop_boxes)
    std::fprintf(stderr, "sgml eval: whole images (--crop-boxes false), although the run trained on images cropped to "
                         "their boxes\n");
  // The user's own `--crop-boxes` on a kind without boxes is refused there, in plain words.
  const Dataset dataset = load_dataset(kind, opt.get("data"), dataset_args.crop_boxes.value_or(crop_boxes),
                                       /*attributes_needed=*/false);

  EvaluationSettings s;
  static_cast<FeatureExtractionSettings&>(s) = m.settings;
  s.skip_bad_images = opt.get_flag("skip-bad-images");
  s.compute_nmi = !opt.get_flag("no-nmi");
  s.ks = ks;
  std::string cache_note;
  const std::shared_ptr<const ImageCache> cache = evaluation_cache(dataset, s, &cache_note);
  if (!cache_note.empty()) std::fprintf(stderr, "%s\n", cache_note.c_str());
  const Evaluation e = evaluate_model(*loaded.model, dataset, s, cache);
  for (const std::string& note : e.recall_notes()) std::fprintf(stderr, "%s\n", note.c_str());
  for (const std::string& path : e.dropped) std::fprintf(stderr, "dropped unreadable image %s\n", path.c_str());

  nlohmann::json j = e.to_json();
  // Which model gave the figures: the file, and for a run's checkpoint its dataset and where the run was.
  j["checkpoint"] = printable_utf8(opt.get("checkpoint"));
  if (loaded.step >= 0) {
    j["checkpoint_dataset"] = loaded.run_dataset;
    j["checkpoint_epoch"] = loaded.epoch;
    j["checkpoint_step"] = loaded.step;
  }
  if (!loaded.build.empty()) j["checkpoint_build"] = printable_utf8(loaded.build);
  j["sgml_build"] = build_id();  // the code that computed these figures
  j["feature"] = m.feature;
  j["crop_boxes"] = crop_boxes;
  if (opt.get_flag("json")) {
    std::printf("%s\n", j.dump().c_str());
  } else {
    const std::string run =
        loaded.step < 0 ? std::string()
                        : str_cat(" (", loaded.run_dataset, " run, epoch ", loaded.epoch, ", step ", loaded.step, ")");
    std::printf("%s%s on %s (%s feature, %s%s):\n", opt.get("checkpoint").c_str(), run.c_str(), kind.c_str(),
                m.feature.c_str(), e.metrics.leave_one_out ? "leave-one-out" : "query vs gallery",
                crop_boxes ? ", images cropped to their boxes" : "");
    // One column of figures, however wide the largest K (SOP's Recall@1000).
    int label_width = 10;  // "Recall@" and three digits
    for (const auto& [k, r] : e.metrics.recall) label_width = std::max(label_width, int(std::to_string(k).size()) + 7);
    for (const auto& [k, r] : e.metrics.recall)
      std::printf("  %-*s %6.2f%%\n", label_width, ("Recall@" + std::to_string(k)).c_str(), 100 * r);
    std::printf("  %-*s %6.2f%%\n", label_width, "MAP@R", 100 * e.metrics.map_at_r);
    if (e.metrics.nmi) std::printf("  %-*s %6.2f%%\n", label_width, "NMI", 100 * *e.metrics.nmi);
    std::printf("  images dropped (unreadable): %d\n", e.images_dropped());
    // Such a query counts as a miss at every K: the figures above cannot reach 100% (In-shop items whose gallery
    // images are missing from a copy, say).
    if (e.metrics.queries_without_match > 0)
      std::printf("  queries without a match in the gallery: %lld of %lld (a miss at every K)\n",
                  (long long)e.metrics.queries_without_match, (long long)e.metrics.num_queries);
  }
  if (!export_path.empty()) {
    const ExportPaths paths = export_paths(export_path);
    save_npy(paths.queries, e.query_features);
    write_labels(paths.queries + ".labels.txt", e.queries);
    std::fprintf(stderr, "query features written to %s (labels: %s.labels.txt)\n", paths.queries.c_str(),
                 paths.queries.c_str());
    if (e.gallery_features.defined()) {
      save_npy(paths.gallery, e.gallery_features);
      write_labels(paths.gallery + ".labels.txt", e.gallery);
      std::fprintf(stderr, "gallery features written to %s (labels: %s.labels.txt)\n", paths.gallery.c_str(),
                   paths.gallery.c_str());
    }
  }
  if (!report_dir.empty()) {
    auto paths_labels = [](const std::vector<const ImageRecord*>& records, std::vector<std::string>& paths,
                           std::vector<int64_t>& labels) {
      for (const ImageRecord* r : records) {
        paths.push_back(r->path);
        labels.push_back(r->label);
      }
    };
    std::vector<std::string> qp, gp;
    std::vector<int64_t> ql, gl;
    paths_labels(e.queries, qp, ql);
    paths_labels(e.gallery, gp, gl);
    ReportOptions ro;
    ro.title = "SGML retrieval on " + kind;
    const ReportSummary r = write_report(opt.get("report"), e.metrics, qp, ql, gp, gl, ro);
    std::fprintf(stderr, "report written to %s\n", r.html_path.c_str());
  }
  return 0;
}

}  // namespace sgml
