// Progress reporting of a training run: a one-line progress bar on a terminal (epoch, step, loss, images per
// second, ETA), plain periodic lines otherwise (logs, CI), and the JSON-lines metrics log.
#pragma once
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sgml {

class ProgressBar {
 public:
  ProgressBar(int64_t total_steps, int64_t first_step);
  // Called after each step with the step number (1-based), epoch, loss and the images of the step.
  void update(int64_t step, int epoch, double loss, int images);
  void message(const std::string& line);  // a line that does not break the bar
  // A better estimate of the run's steps (Divide & Conquer's clustered epochs take their length from the clusters).
  void set_total(int64_t total_steps) { total_ = total_steps; }
  void finish();

 private:
  int64_t total_, first_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_print_;
  double images_ = 0, smoothed_loss_ = -1;
  bool bar_visible_ = false;
};

// Appends one JSON object per line and flushes, so the log survives an interrupt.
class MetricsLog {
 public:
  MetricsLog() = default;
  MetricsLog(const std::string& path, bool append) { open(path, append); }
  void open(const std::string& path, bool append);
  // Continues the log of a run resumed at `step`: the records of later steps (written after the checkpoint, before a
  // kill) are dropped first, so the log holds each step once.
  void resume(const std::string& path, int64_t step);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  void write(const nlohmann::json& record);

 private:
  FILE* file_ = nullptr;
  std::string path_;
};

// Drops, atomically, the records of the metrics log at `path` whose "step" is after `step` (step and evaluation
// records alike) and a last record cut midway; other lines are kept as they are. Returns the lines dropped; a
// missing file is left missing.
size_t truncate_metrics_log(const std::string& path, int64_t step);

// The curves of the plots, read from a whole metrics log (a resumed run's too: its log was cut back to the
// checkpoint's step before the resumed process appended to it). Lines that are not step or evaluation records (a
// re-clustering's, a cut last line) are passed over.
struct TrainingCurves {
  std::vector<double> steps, losses;     // the step records', in log order
  std::vector<double> epochs, recalls;  // the evaluations' Recall@1 (epoch 0: before training)
};
TrainingCurves read_training_curves(const std::string& metrics_path);

}  // namespace sgml
