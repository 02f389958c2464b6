// The retrieval report (`--report DIR`): one self-contained HTML page in the manner of the paper's Fig. 9 — for a
// deterministic sample of queries, the query image and its top results, correct results framed green and wrong
// ones red — above the metrics table and the Recall@K curve. Every image is embedded as a data URI (JPEG
// thumbnails, the PNG curve), so the page can be copied or mailed alone. The curve is also written beside it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/image_io.h"
#include "retrieval/metrics.h"

namespace sgml {

struct ReportOptions {
  std::string title = "Retrieval results";
  int num_queries = 20;     // queries shown: evenly spaced over the query set (0, M/n, 2M/n, ...)
  int top = 5;              // results per query (at most metrics.neighbours.k)
  int thumbnail_size = 128; // longer side of each thumbnail, pixels
  int jpeg_quality = 85;
};

// What write_report produced, for logs and tests.
struct ReportSummary {
  std::string html_path, curve_path;
  std::vector<int64_t> shown_queries;  // query indices, in page order
  int hits = 0, misses = 0;            // green and red frames on the page
  int unreadable_images = 0;           // drawn as grey placeholders
};

// Writes DIR/index.html and DIR/recall_at_k.png (DIR is created). Image paths and labels are those of the query
// and gallery sets the metrics were computed on (the same lists twice for leave-one-out). An image that cannot be
// read becomes a grey placeholder rather than an error: the report must not cost an evaluation its results.
ReportSummary write_report(const std::string& dir, const RetrievalMetrics& metrics,
                           const std::vector<std::string>& query_images, const std::vector<int64_t>& query_labels,
                           const std::vector<std::string>& gallery_images, const std::vector<int64_t>& gallery_labels,
                           const ReportOptions& options = {});

// The Recall@K curve of the metrics (K on a log axis, recall in percent).
RgbImage render_recall_curve(const RetrievalMetrics& metrics, int width = 560, int height = 360);

}  // namespace sgml
