#include "training/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "engine/check.h"
#include "engine/safetensors.h"

namespace sgml {

namespace {
std::string format_duration(double seconds) {
  if (seconds < 0 || seconds > 1e7) return "--:--";
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%02ld:%02ld", s / 60, s % 60);
  return buf;
}
}  // namespace

ProgressBar::ProgressBar(int64_t total_steps, int64_t first_step)
    : total_(total_steps), first_(first_step), tty_(isatty(fileno(stderr)) != 0),
      start_(std::chrono::steady_clock::now()), last_print_(start_) {}

void ProgressBar::update(int64_t step, int epoch, double loss, int images) {
  const auto now = std::chrono::steady_clock::now();
  images_ += images;
  smoothed_loss_ = smoothed_loss_ < 0 ? loss : 0.9 * smoothed_loss_ + 0.1 * loss;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double since_print = std::chrono::duration<double>(now - last_print_).count();
  const bool last = step >= total_;
  // On a terminal redraw at most 4 times a second; in a log print every 10 seconds and at the end.
  if (!last && since_print < (tty_ ? 0.25 : 10.0)) return;
  last_print_ = now;
  const double done = double(step - first_), rate = elapsed > 0 ? images_ / elapsed : 0;
  const double eta = done > 0 ? elapsed / done * double(total_ - step) : -1;
  const int width = 24, filled = total_ > 0 ? std::min(width, int(width * double(step) / double(total_))) : 0;
  std::string bar(filled, '#');
  bar.resize(width, '.');
  char line[256];
  std::snprintf(line, sizeof line, "epoch %d [%s] step %lld/%lld  loss (moving average) %.4f  %.1f img/s  ETA %s",
                epoch, bar.c_str(), (long long)step, (long long)total_, smoothed_loss_, rate,
                format_duration(eta).c_str());
  if (tty_) {
    std::fprintf(stderr, "\r%s\033[K", line);
    bar_visible_ = true;
  } else {
    std::fprintf(stderr, "%s\n", line);
  }
  std::fflush(stderr);
}

void ProgressBar::message(const std::string& text) {
  if (bar_visible_) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "%s\n", text.c_str());
  bar_visible_ = false;
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (bar_visible_) std::fprintf(stderr, "\n");
  bar_visible_ = false;
}

void MetricsLog::open(const std::string& path, bool append) {
  if (file_) std::fclose(file_);
  path_ = path;
  file_ = std::fopen(path.c_str(), append ? "a" : "w");
  if (!file_) SGML_FAIL("cannot write the metrics log '", path, "': ", std::strerror(errno));
}

namespace {
// Whether `line` (one JSON record) belongs to the run up to `step`: records of later steps do not. Lines that are not
// JSON objects with a numeric "step" are kept as they are (they are not ours to judge).
bool record_up_to(const std::string& line, int64_t step) {
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("step") || !j["step"].is_number()) return true;
  return j["step"].get<double>() <= double(step);
}
}  // namespace

size_t truncate_metrics_log(const std::string& path, int64_t step) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return 0;  // no log yet (or a new --metrics file): nothing to drop
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  if (in.bad()) SGML_FAIL("cannot read the metrics log '", path, "'");
  std::string kept;
  size_t dropped = 0;
  for (size_t pos = 0; pos < text.size();) {
    const size_t nl = text.find('\n', pos);
    const bool complete = nl != std::string::npos;
    const std::string line = text.substr(pos, complete ? nl - pos : std::string::npos);
    pos = complete ? nl + 1 : text.size();
    // A last line without its newline is a record cut by a kill: keep it only if it is whole JSON of an early step.
    const bool whole = complete || nlohmann::json::accept(line);
    if (line.empty() || (whole && record_up_to(line, step))) {
      kept += line + "\n";
    } else {
      ++dropped;
    }
  }
  if (kept != text) write_file_atomically(path, kept);  // also ends a kept last record with its newline
  return dropped;
}

void MetricsLog::resume(const std::string& path, int64_t step) {
  truncate_metrics_log(path, step);
  open(path, /*append=*/true);
}

MetricsLog::~MetricsLog() {
  if (file_) std::fclose(file_);
}

void MetricsLog::write(const nlohmann::json& record) {
  if (!file_) return;
  const std::string line = record.dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0)
    SGML_FAIL("writing the metrics log '", path_, "' failed (disk full?)");
}

TrainingCurves read_training_curves(const std::string& metrics_path) {
  TrainingCurves c;
  std::ifstream in(metrics_path);
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json r = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!r.is_object() || !r.contains("step") || !r["step"].is_number()) continue;
    if (r.contains("loss") && r["loss"].is_number()) {
      c.steps.push_back(r["step"].get<double>());
      c.losses.push_back(r["loss"].get<double>());
    }
    if (r.contains("recall@1") && r["recall@1"].is_number() && r.contains("epoch") && r["epoch"].is_number()) {
      c.epochs.push_back(r["epoch"].get<double>());
      c.recalls.push_back(r["recall@1"].get<double>());
    }
  }
  return c;
}

}  // namespace sgml
