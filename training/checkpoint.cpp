#include "training/checkpoint.h"

#include <filesystem>
#include <limits>
#include <type_traits>

#include "engine/build_id.h"
#include "engine/check.h"
#include "engine/json_depth.h"

namespace sgml {

namespace {
const char* kOptimizerPrefix = "optimizer.";
// The files a training run writes into its folder, all atomically (the checkpoints and config.json here, metrics.jsonl
// by training/progress.cpp, the plots by the train command): their interrupted temporaries are cleaned at start, and
// an earlier run's are set aside by a new run.
const char* kRunFiles[] = {"last.safetensors", "best.safetensors", "config.json", "metrics.jsonl", "loss.png",
                           "recall_at_1.png"};

// One field of the stored progress: absent gives the default; a wrong type or range names the file and field.
template <class T>
T progress_field(const nlohmann::json& j, const char* field, T fallback, const std::string& path) {
  if (!j.contains(field)) return fallback;
  const nlohmann::json& v = j[field];
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean())
      SGML_FAIL("checkpoint '", path, "': progress field '", field, "' must be true or false, got ", v.dump());
    return v.get<bool>();
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number())
      SGML_FAIL("checkpoint '", path, "': progress field '", field, "' must be a number, got ", v.dump());
    return v.get<T>();
  } else {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > int64_t(std::numeric_limits<T>::max()))
      SGML_FAIL("checkpoint '", path, "': progress field '", field, "' must be a non-negative integer, got ", v.dump());
    return static_cast<T>(v.get<int64_t>());
  }
}

nlohmann::json parse_metadata_json(const Metadata& meta, const char* field, const std::string& path) {
  auto it = meta.find(field);
  if (it == meta.end()) SGML_FAIL("checkpoint '", path, "' has no '", field, "' in its metadata");
  check_json_depth(it->second, str_cat("checkpoint '", path, "': metadata field '", field, "'"));
  try {
    nlohmann::json j = nlohmann::json::parse(it->second);
    if (!j.is_object()) SGML_FAIL("checkpoint '", path, "': metadata field '", field, "' is not a JSON object");
    return j;
  } catch (const nlohmann::json::exception& e) {
    SGML_FAIL("checkpoint '", path, "' has corrupt metadata: field '", field, "' is not valid JSON (", e.what(), ")");
  }
}
// The fields of DataDescription under their keys in the stored progress ("training_data" since before the others).
template <class Description,
          class Field = std::conditional_t<std::is_const_v<Description>, const std::string, std::string>>
std::vector<std::pair<const char*, Field*>> data_fields(Description& d) {
  return {{"training_data", &d.training},
          {"training_boxes", &d.training_boxes},
          {"training_files", &d.training_files},
          {"evaluation_data", &d.evaluation},
          {"evaluation_files", &d.evaluation_files},
          {"image_source", &d.image_source}};
}

}  // namespace

nlohmann::json TrainProgress::to_json() const {
  nlohmann::json j = {{"step", step}, {"epoch", epoch}, {"step_in_epoch", step_in_epoch},
                      {"best_recall_at_1", best_recall_at_1}, {"bad_images_skipped", bad_images_skipped}};
  if (evaluation_pending) j["evaluation_pending"] = true;
  if (cpu_threads > 0) j["cpu_threads"] = cpu_threads;
  for (const auto& [key, value] : data_fields(data))
    if (!value->empty()) j[key] = *value;
  if (clustered_epoch > 0) {
    j["clusters"] = clusters;
    j["clustered_epoch"] = clustered_epoch;
  }
  return j;
}

TrainProgress TrainProgress::from_json(const nlohmann::json& j, const std::string& path) {
  if (!j.is_object()) SGML_FAIL("checkpoint '", path, "': the stored progress is not a JSON object");
  TrainProgress p;
  p.step = progress_field(j, "step", int64_t(0), path);
  p.epoch = progress_field(j, "epoch", 0, path);
  p.step_in_epoch = progress_field(j, "step_in_epoch", int64_t(0), path);
  p.best_recall_at_1 = progress_field(j, "best_recall_at_1", -1.0, path);
  p.bad_images_skipped = progress_field(j, "bad_images_skipped", 0, path);
  p.clustered_epoch = progress_field(j, "clustered_epoch", 0, path);
  p.evaluation_pending = progress_field(j, "evaluation_pending", false, path);
  p.cpu_threads = progress_field(j, "cpu_threads", 0, path);
  for (const auto& [key, value] : data_fields(p.data)) {
    if (!j.contains(key)) continue;
    if (!j.at(key).is_string())
      SGML_FAIL("checkpoint '", path, "': the stored description of the data ('", key, "') is not a string");
    *value = j.at(key).get<std::string>();
  }
  if (j.contains("clusters")) {
    const nlohmann::json& c = j.at("clusters");
    if (!c.is_array()) SGML_FAIL("checkpoint '", path, "': the stored cluster assignment is not a JSON array");
    for (const nlohmann::json& v : c) {
      if (!v.is_number_integer() || v.get<int64_t>() < -1 || v.get<int64_t>() > 4096)
        SGML_FAIL("checkpoint '", path, "': the stored cluster assignment holds ", v.dump(), ", not a cluster id");
      p.clusters.push_back(v.get<int>());
    }
  }
  return p;
}

void save_checkpoint(const std::string& path, const TensorMap& model, const TensorMap& optimizer,
                     const nlohmann::json& config, const TrainProgress& progress) {
  TensorMap all = model;
  for (const auto& [name, t] : optimizer) all[kOptimizerPrefix + name] = t;
  save_safetensors(path, all,
                   {{"sgml_checkpoint", "1"},
                    {"config", config.dump()},
                    {"progress", progress.to_json().dump()},
                    {"sgml_build", build_id()}});
}

Checkpoint load_checkpoint(const std::string& path) {
  Metadata meta;
  TensorMap all = load_weights_file(path, &meta);  // refuses NaN/inf in the model and in the optimiser state
  Checkpoint c;
  for (auto& [name, t] : all) {
    if (name.rfind(kOptimizerPrefix, 0) == 0)
      c.optimizer[name.substr(std::string(kOptimizerPrefix).size())] = t;
    else
      c.model[name] = t;
  }
  if (meta.count("sgml_build")) c.build = meta.at("sgml_build");
  if (meta.count("sgml_checkpoint")) {
    c.is_training_checkpoint = true;
    c.config = parse_metadata_json(meta, "config", path);
    c.progress = TrainProgress::from_json(parse_metadata_json(meta, "progress", path), path);
  }
  return c;
}

std::vector<std::string> remove_stale_run_temporaries(const std::string& run_dir) {
  std::vector<std::string> removed;
  for (const char* file : kRunFiles)
    for (std::string& r : remove_stale_temporaries(run_dir + "/" + file)) removed.push_back(std::move(r));
  return removed;
}

std::string set_aside_earlier_run(const std::string& run_dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> found;
  std::error_code ec;
  for (const char* file : kRunFiles)
    if (fs::exists(fs::path(run_dir) / file, ec)) found.push_back(file);
  if (found.empty()) return "";
  fs::path aside;
  for (int n = 1;; ++n) {
    aside = fs::path(run_dir) / ("earlier-" + std::to_string(n));
    if (!fs::exists(aside, ec)) break;
  }
  if (!fs::create_directory(aside, ec))
    SGML_FAIL("cannot create '", aside.string(), "' to keep the earlier run of '", run_dir, "' in (", ec.message(),
              "): continue that run with --resume, or train into another --out");
  for (const std::string& file : found) {
    fs::rename(fs::path(run_dir) / file, aside / file, ec);
    if (ec)
      SGML_FAIL("cannot move '", (fs::path(run_dir) / file).string(), "' of the earlier run into '", aside.string(),
                "' (", ec.message(), "): continue that run with --resume, or train into another --out");
  }
  return aside.string();
}

}  // namespace sgml
