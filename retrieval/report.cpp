#include "retrieval/report.h"

#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "engine/check.h"
#include "engine/safetensors.h"
#include "data/image_io.h"
#include "retrieval/plot.h"

namespace sgml {

namespace {

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

// Thumbnails as JPEG data URIs, each image decoded once per report.
class ThumbnailCache {
 public:
  ThumbnailCache(const ReportOptions& options, ReportSummary& summary) : options_(options), summary_(summary) {}

  const std::string& get(const std::string& path) {
    auto it = uris_.find(path);
    if (it != uris_.end()) return it->second;
    RgbImage thumb;
    try {
      thumb = fit_within(load_image_rgb(path), options_.thumbnail_size);
    } catch (const Error&) {
      ++summary_.unreadable_images;
      thumb = RgbImage(options_.thumbnail_size, options_.thumbnail_size, 160);
    }
    return uris_[path] = data_uri("image/jpeg", encode_jpeg(thumb, options_.jpeg_quality));
  }

 private:
  const ReportOptions& options_;
  ReportSummary& summary_;
  std::map<std::string, std::string> uris_;
};

const char* kStyle = R"(body{font-family:sans-serif;margin:24px;color:#222}
table.metrics{border-collapse:collapse;margin-bottom:16px}
table.metrics td,table.metrics th{border:1px solid #ccc;padding:4px 10px;text-align:right}
.row{display:flex;align-items:flex-start;gap:10px;margin:10px 0;padding-bottom:10px;border-bottom:1px solid #eee}
figure{margin:0;text-align:center;font-size:12px}
figure img{display:block;border:5px solid transparent}
.query{border-color:#555!important;margin-right:18px}
.hit{border-color:#1a9e1a!important}
.miss{border-color:#d62020!important})";

}  // namespace

RgbImage render_recall_curve(const RetrievalMetrics& metrics, int width, int height) {
  PlotSeries curve;
  curve.name = "Recall@K";
  for (const auto& [k, recall] : metrics.recall) {
    curve.x.push_back(k);
    curve.y.push_back(100.0 * recall);
  }
  PlotOptions o;
  o.width = width;
  o.height = height;
  o.title = "Recall@K";
  o.x_label = "K";
  o.y_label = "recall (%)";
  o.log_x = true;
  o.x_ticks = curve.x;
  return render_line_plot({curve}, o);
}

ReportSummary write_report(const std::string& dir, const RetrievalMetrics& metrics,
                           const std::vector<std::string>& query_images, const std::vector<int64_t>& query_labels,
                           const std::vector<std::string>& gallery_images, const std::vector<int64_t>& gallery_labels,
                           const ReportOptions& options) {
  const KnnResult& knn = metrics.neighbours;
  SGML_CHECK(int64_t(query_images.size()) == knn.num_queries && query_labels.size() == query_images.size(),
             "report: ", query_images.size(), " query images and ", query_labels.size(), " labels for ",
             knn.num_queries, " queries");
  SGML_CHECK(gallery_images.size() == gallery_labels.size() && int64_t(gallery_images.size()) == metrics.num_gallery,
             "report: ", gallery_images.size(), " gallery images and ", gallery_labels.size(), " labels for ",
             metrics.num_gallery, " gallery items");
  SGML_CHECK(options.num_queries >= 0 && options.top >= 1, "report: num_queries ", options.num_queries, ", top ",
             options.top);
  std::filesystem::create_directories(dir);
  ReportSummary summary;
  summary.html_path = dir + "/index.html";
  summary.curve_path = dir + "/recall_at_k.png";

  const std::vector<uint8_t> curve_png = encode_png(render_recall_curve(metrics));
  write_file_atomically(summary.curve_path, std::string(curve_png.begin(), curve_png.end()));

  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" << html_escape(options.title)
       << "</title>\n<style>" << kStyle << "</style></head>\n<body>\n<h1>" << html_escape(options.title) << "</h1>\n";
  html << "<p>" << metrics.num_queries << " queries, " << metrics.num_gallery << " gallery images, "
       << (metrics.leave_one_out ? "leave-one-out" : "query against gallery") << "; " << metrics.queries_without_match
       << " queries have no match in the gallery (counted as misses).</p>\n<table class=\"metrics\"><tr>";
  for (const auto& [k, recall] : metrics.recall) html << "<th>R@" << k << "</th>";
  html << "<th>MAP@R</th>" << (metrics.nmi ? "<th>NMI</th>" : "") << "</tr>\n<tr>";
  for (const auto& [k, recall] : metrics.recall) html << "<td>" << fixed(100.0 * recall, 2) << "</td>";
  html << "<td>" << fixed(100.0 * metrics.map_at_r, 2) << "</td>";
  if (metrics.nmi) html << "<td>" << fixed(100.0 * *metrics.nmi, 2) << "</td>";
  html << "</tr></table>\n<img alt=\"Recall@K curve\" src=\"" << data_uri("image/png", curve_png) << "\">\n";

  // Evenly spaced queries: deterministic, and spread over the classes when the set is ordered by class.
  const int64_t m = knn.num_queries;
  const int64_t shown = std::min<int64_t>(options.num_queries, m);
  const int top = std::min(options.top, knn.k);
  ThumbnailCache thumbs(options, summary);
  html << "<h2>Top-" << top << " results of " << shown << " queries</h2>\n";
  for (int64_t i = 0; i < shown; ++i) {
    const int64_t q = i * m / shown;
    summary.shown_queries.push_back(q);
    html << "<div class=\"row\"><figure><img class=\"query\" src=\"" << thumbs.get(query_images[q]) << "\" title=\""
         << html_escape(query_images[q]) << "\"><figcaption>query " << q << "<br>class " << query_labels[q]
         << "</figcaption></figure>\n";
    for (int r = 0; r < top; ++r) {
      const int32_t g = knn.index(q, r);
      const bool hit = gallery_labels[g] == query_labels[q];
      (hit ? summary.hits : summary.misses)++;
      html << "<figure><img class=\"" << (hit ? "hit" : "miss") << "\" src=\"" << thumbs.get(gallery_images[g])
           << "\" title=\"" << html_escape(gallery_images[g]) << "\"><figcaption>#" << r + 1 << " class "
           << gallery_labels[g] << "<br>" << fixed(knn.score(q, r), 3) << "</figcaption></figure>\n";
    }
    html << "</div>\n";
  }
  html << "</body></html>\n";
  write_file_atomically(summary.html_path, html.str());
  return summary;
}

}  // namespace sgml
