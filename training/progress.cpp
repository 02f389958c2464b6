#include "training/progress.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/check.h"

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
  const int width = 24, filled = total_ > 0 ? int(width * double(step) / double(total_)) : 0;
  std::string bar(filled, '#');
  bar.resize(width, '.');
  char line[256];
  std::snprintf(line, sizeof line, "epoch %d [%s] step %lld/%lld  loss %.4f  %.1f img/s  ETA %s", epoch, bar.c_str(),
                (long long)step, (long long)total_, smoothed_loss_, rate, format_duration(eta).c_str());
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

MetricsLog::~MetricsLog() {
  if (file_) std::fclose(file_);
}

void MetricsLog::write(const nlohmann::json& record) {
  if (!file_) return;
  const std::string line = record.dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0)
    SGML_FAIL("writing the metrics log '", path_, "' failed (disk full?)");
}

}  // namespace sgml
