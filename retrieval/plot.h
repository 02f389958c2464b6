// A small line-plot rasteriser for reports and training curves (Recall@K, loss, Recall@1 per epoch): axes with
// "nice" ticks, a grid, tick and axis labels in stb_easy_font's bitmap font, several coloured series with point
// markers, and a legend. Output is an RGB image, encoded to PNG with stb_image_write.
#pragma once
#include <string>
#include <vector>

#include "data/image_io.h"

namespace sgml {

struct PlotSeries {
  std::string name;          // in the legend
  std::vector<double> x, y;  // same length; non-finite points are skipped
};

struct PlotOptions {
  int width = 640, height = 400;  // pixels
  std::string title, x_label, y_label;
  bool log_x = false;          // log-scaled x axis (for K = 1, 2, 4, 8, ...); needs x > 0
  std::vector<double> x_ticks;  // where to put x ticks (e.g. the K values); empty = 1-2-5 steps
};

RgbImage render_line_plot(const std::vector<PlotSeries>& series, const PlotOptions& options);
void write_line_plot_png(const std::string& path, const std::vector<PlotSeries>& series, const PlotOptions& options);

}  // namespace sgml
