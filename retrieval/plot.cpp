#include "retrieval/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/check.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb_easy_font.h>  // all static: nothing to define
#pragma GCC diagnostic pop

namespace sgml {

namespace {

struct Rgb {
  uint8_t r, g, b;
};
// matplotlib's tab10, so curves look familiar.
const Rgb kPalette[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
                        {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
const Rgb kBlack{0, 0, 0}, kGrid{225, 225, 225};

void fill_rect(RgbImage& img, int x0, int y0, int x1, int y1, Rgb c) {  // [x0, x1) x [y0, y1), clipped
  for (int y = std::max(0, y0); y < std::min(img.height, y1); ++y)
    for (int x = std::max(0, x0); x < std::min(img.width, x1); ++x) {
      uint8_t* p = img.at(x, y);
      p[0] = c.r, p[1] = c.g, p[2] = c.b;
    }
}

// A line `thickness` pixels wide: squares stamped along the segment, one per unit step.
void draw_line(RgbImage& img, double x0, double y0, double x1, double y1, Rgb c, int thickness) {
  const int steps = std::max(1, int(std::ceil(std::max(std::fabs(x1 - x0), std::fabs(y1 - y0)))));
  for (int s = 0; s <= steps; ++s) {
    const int x = int(std::lround(x0 + (x1 - x0) * s / steps)), y = int(std::lround(y0 + (y1 - y0) * s / steps));
    fill_rect(img, x - thickness / 2, y - thickness / 2, x - thickness / 2 + thickness, y - thickness / 2 + thickness,
              c);
  }
}

// stb_easy_font builds glyphs from axis-aligned quads; we fill them, scaled. Non-ASCII characters become '?'.
void draw_text(RgbImage& img, int x, int y, const std::string& text, Rgb c, int scale = 1) {
  std::string ascii(text);
  for (char& ch : ascii)
    if (ch < 32 || ch > 126) ch = '?';
  std::vector<char> quads(ascii.size() * 16 * 64 + 64);  // 64 bytes a quad, at most ~12 quads a glyph
  const int n = stb_easy_font_print(0, 0, ascii.data(), nullptr, quads.data(), int(quads.size()));
  for (int q = 0; q < n; ++q) {
    const float* v0 = reinterpret_cast<const float*>(&quads[size_t(q) * 64]);       // first corner (x, y, z)
    const float* v2 = reinterpret_cast<const float*>(&quads[size_t(q) * 64 + 32]);  // opposite corner
    fill_rect(img, x + int(v0[0] * scale), y + int(v0[1] * scale), x + int(v2[0] * scale), y + int(v2[1] * scale), c);
  }
}

int text_width(const std::string& text, int scale = 1) {
  std::string ascii(text);
  for (char& ch : ascii)
    if (ch < 32 || ch > 126) ch = '?';
  return stb_easy_font_width(ascii.data()) * scale;
}

// Ticks at 1, 2 or 5 times a power of ten, about `target` of them across [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target) {
  const double raw = (hi - lo) / target, magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double step = magnitude * (raw / magnitude < 1.5   ? 1
                                   : raw / magnitude < 3.5 ? 2
                                   : raw / magnitude < 7.5 ? 5
                                                           : 10);
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) ticks.push_back(t);
  return ticks;
}

std::string format_tick(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", std::fabs(v) < 1e-12 ? 0.0 : v);
  return buf;
}

}  // namespace

RgbImage render_line_plot(const std::vector<PlotSeries>& series, const PlotOptions& o) {
  SGML_CHECK(o.width >= 160 && o.height >= 120, "plot of ", o.width, "x", o.height, " pixels is too small");
  RgbImage img(o.width, o.height, 255);
  auto tx = [&](double x) { return o.log_x ? std::log10(x) : x; };
  // Data range over every finite point (x > 0 on a log axis).
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  for (const PlotSeries& s : series) {
    SGML_CHECK(s.x.size() == s.y.size(), "plot series '", s.name, "' has ", s.x.size(), " x and ", s.y.size(), " y");
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i]) || (o.log_x && s.x[i] <= 0)) continue;
      x_lo = std::min(x_lo, tx(s.x[i])), x_hi = std::max(x_hi, tx(s.x[i]));
      y_lo = std::min(y_lo, s.y[i]), y_hi = std::max(y_hi, s.y[i]);
    }
  }
  if (!std::isfinite(x_lo)) x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;  // nothing to draw: empty axes
  if (x_hi - x_lo < 1e-12) x_lo -= 0.5, x_hi += 0.5;
  if (y_hi - y_lo < 1e-12) y_lo -= 0.5, y_hi += 0.5;
  const double y_pad = 0.05 * (y_hi - y_lo), x_pad = 0.03 * (x_hi - x_lo);
  x_lo -= x_pad, x_hi += x_pad, y_lo -= y_pad, y_hi += y_pad;

  // Plot area: room on the left for y ticks, at the top for the title, at the bottom for x ticks and label.
  const int left = 56, right = o.width - 16, top = 34, bottom = o.height - 40;
  auto px = [&](double x) { return left + (tx(x) - x_lo) / (x_hi - x_lo) * (right - left); };
  auto py = [&](double y) { return bottom - (y - y_lo) / (y_hi - y_lo) * (bottom - top); };

  const std::vector<double> y_ticks = nice_ticks(y_lo, y_hi, 6);
  for (double t : y_ticks) {
    const int y = int(std::lround(py(t)));
    fill_rect(img, left, y, right, y + 1, kGrid);
    fill_rect(img, left - 4, y, left, y + 1, kBlack);
    const std::string label = format_tick(t);
    draw_text(img, left - 7 - text_width(label), y - 3, label, kBlack);
  }
  std::vector<double> x_ticks = nice_ticks(x_lo, x_hi, 8);
  if (!o.x_ticks.empty()) {
    x_ticks.clear();
    for (double t : o.x_ticks)
      if (std::isfinite(t) && (!o.log_x || t > 0) && tx(t) >= x_lo && tx(t) <= x_hi) x_ticks.push_back(t);
  } else if (o.log_x) {  // decades and their 2x and 5x: 1 2 5 10 20 50 ...
    x_ticks.clear();
    for (int e = int(std::floor(x_lo)); e <= int(std::ceil(x_hi)); ++e)
      for (double m : {1.0, 2.0, 5.0})
        if (std::log10(m) + e >= x_lo && std::log10(m) + e <= x_hi) x_ticks.push_back(m * std::pow(10.0, e));
  }
  for (double t : x_ticks) {
    const int x = int(std::lround(px(t)));
    fill_rect(img, x, top, x + 1, bottom, kGrid);
    fill_rect(img, x, bottom, x + 1, bottom + 4, kBlack);
    const std::string label = format_tick(t);
    draw_text(img, x - text_width(label) / 2, bottom + 8, label, kBlack);
  }
  // Axes box, title and labels.
  fill_rect(img, left, top, right + 1, top + 1, kBlack);
  fill_rect(img, left, bottom, right + 1, bottom + 1, kBlack);
  fill_rect(img, left, top, left + 1, bottom + 1, kBlack);
  fill_rect(img, right, top, right + 1, bottom + 1, kBlack);
  draw_text(img, (o.width - text_width(o.title, 2)) / 2, 8, o.title, kBlack, 2);
  draw_text(img, (left + right - text_width(o.x_label)) / 2, o.height - 16, o.x_label, kBlack);
  draw_text(img, 6, top - 12, o.y_label, kBlack);

  // Series: 2-pixel lines between consecutive finite points, 5-pixel square markers.
  const RgbImage axes_only = img;  // what the series cover, for placing the legend
  for (size_t si = 0; si < series.size(); ++si) {
    const PlotSeries& s = series[si];
    const Rgb c = kPalette[si % (sizeof(kPalette) / sizeof(kPalette[0]))];
    bool have_previous = false;
    double prev_x = 0, prev_y = 0;
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i]) || (o.log_x && s.x[i] <= 0)) continue;
      const double x = px(s.x[i]), y = py(s.y[i]);
      if (have_previous) draw_line(img, prev_x, prev_y, x, y, c, 2);
      fill_rect(img, int(std::lround(x)) - 2, int(std::lround(y)) - 2, int(std::lround(x)) + 3, int(std::lround(y)) + 3,
                c);
      prev_x = x, prev_y = y, have_previous = true;
    }
  }
  // Legend: inside the plot, one line per named series, in the corner that covers the fewest drawn pixels of the
  // series (a rising Recall@1 curve ends top right, where a fixed legend would hide the last point).
  int legend_width = 0, rows = 0;
  for (const PlotSeries& s : series) legend_width = std::max(legend_width, text_width(s.name)), rows += !s.name.empty();
  if (rows > 0) {
    const int box_w = legend_width + 30, box_h = rows * 12 + 6;
    const int corners[4][2] = {{right - 6 - box_w, top + 6},             // in order of preference
                               {right - 6 - box_w, bottom - 6 - box_h},
                               {left + 6, top + 6},
                               {left + 6, bottom - 6 - box_h}};
    auto covered = [&](int x0, int y0) {  // pixels of the series under the box
      int count = 0;
      for (int y = std::max(y0, 0); y < std::min(y0 + box_h, img.height); ++y)
        for (int x = std::max(x0, 0); x < std::min(x0 + box_w, img.width); ++x)
          count += !std::equal(img.at(x, y), img.at(x, y) + 3, axes_only.at(x, y));
      return count;
    };
    int best = 0, best_count = covered(corners[0][0], corners[0][1]);
    for (int c = 1; c < 4; ++c) {
      const int n = covered(corners[c][0], corners[c][1]);
      if (n < best_count) best = c, best_count = n;
    }
    const int x0 = corners[best][0], y0 = corners[best][1];
    fill_rect(img, x0, y0, x0 + box_w, y0 + box_h, {255, 255, 255});
    int row = 0;
    for (size_t si = 0; si < series.size(); ++si) {
      if (series[si].name.empty()) continue;
      const int y = y0 + 6 + row++ * 12;
      fill_rect(img, x0 + 4, y + 2, x0 + 22, y + 4, kPalette[si % (sizeof(kPalette) / sizeof(kPalette[0]))]);
      draw_text(img, x0 + 26, y, series[si].name, kBlack);
    }
  }
  return img;
}

void write_line_plot_png(const std::string& path, const std::vector<PlotSeries>& series, const PlotOptions& options) {
  write_png(path, render_line_plot(series, options));
}

}  // namespace sgml
