// The HTML report and the plot rasteriser. The report is built on a set whose rankings are known by construction
// (one-hot class features, three images per class, leave-one-out): every query's first two results are its class
// mates (green) and the next three are not (red), whatever the code under test computes.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "engine/check.h"
#include "data/image_io.h"
#include "retrieval/metrics.h"
#include "retrieval/plot.h"
#include "retrieval/report.h"
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

int count(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

int pixels_of_colour(const RgbImage& img, uint8_t r, uint8_t g, uint8_t b) {
  int n = 0;
  for (size_t i = 0; i < img.pixels.size(); i += 3)
    n += img.pixels[i] == r && img.pixels[i + 1] == g && img.pixels[i + 2] == b;
  return n;
}

// Independent of the encoder under test: the RFC 4648 alphabet, decoded by position.
std::vector<uint8_t> base64_decode(const std::string& text) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::vector<uint8_t> out;
  uint32_t bits = 0;
  int have = 0;
  for (char c : text) {
    if (c == '=') break;
    bits = (bits << 6) | uint32_t(alphabet.find(c));
    have += 6;
    if (have >= 8) {
      have -= 8;
      out.push_back(uint8_t((bits >> have) & 0xff));
    }
  }
  return out;
}

}  // namespace

TEST(RetrievalImageIo, Base64MatchesRfc4648Vectors) {
  auto b64 = [](const std::string& s) { return base64_encode(std::vector<uint8_t>(s.begin(), s.end())); };
  EXPECT_EQ(b64(""), "");
  EXPECT_EQ(b64("f"), "Zg==");
  EXPECT_EQ(b64("fo"), "Zm8=");
  EXPECT_EQ(b64("foo"), "Zm9v");
  EXPECT_EQ(b64("foob"), "Zm9vYg==");
  EXPECT_EQ(b64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(b64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode({0xfb, 0xff}), "+/8=");
}

TEST(RetrievalImageIo, FitWithinKeepsAspectAndNeverEnlarges) {
  RgbImage wide(200, 100, 40);
  const RgbImage small = fit_within(wide, 128);
  EXPECT_EQ(small.width, 128);
  EXPECT_EQ(small.height, 64);
  EXPECT_EQ(small.at(10, 10)[0], 40);  // a flat image stays flat
  const RgbImage same = fit_within(RgbImage(50, 20), 128);
  EXPECT_EQ(same.width, 50);
  EXPECT_EQ(same.height, 20);
  // PNG round trip through stb_image is lossless.
  RgbImage gradient(7, 5);
  for (size_t i = 0; i < gradient.pixels.size(); ++i) gradient.pixels[i] = uint8_t(i * 7);
  const RgbImage back = decode_image_rgb(encode_png(gradient));
  EXPECT_EQ(back.width, 7);
  EXPECT_EQ(back.pixels, gradient.pixels);
  EXPECT_THROW(load_image_rgb("/nonexistent/image.png"), Error);
}

TEST(RetrievalReport, SelfContainedPageWithTheRightFrames) {
  const std::string dir = test::scratch_dir("report");
  // 4 classes x 3 images: class c has features e_c (plus a small per-image offset along an unused axis, so that
  // class mates are closer than anything else but not all tied).
  const int classes = 4, per_class = 3, n = classes * per_class, d = 8;
  std::vector<float> features(size_t(n * d), 0.0f);
  std::vector<int64_t> labels;
  std::vector<std::string> images;
  for (int i = 0; i < n; ++i) {
    const int c = i / per_class;
    labels.push_back(c);
    features[size_t(i * d + c)] = 1.0f;
    features[size_t(i * d + 7)] = 0.1f * float(i % per_class);
    // A class-coloured image; class 1's are large, so their thumbnails are resized.
    RgbImage img(c == 1 ? 300 : 40, c == 1 ? 150 : 30);
    for (size_t p = 0; p < img.pixels.size(); p += 3) img.pixels[p] = uint8_t(60 * c), img.pixels[p + 1] = 200;
    images.push_back(dir + "/img" + std::to_string(i) + ".png");
    write_png(images.back(), img);
  }
  images[5] = dir + "/missing.png";  // an unreadable image: a placeholder, not an error
  const RetrievalMetrics m =
      evaluate_leave_one_out(Tensor::from_vector(features, {n, d}), labels, {1, 2, 4, 8}, Device::cpu());
  ReportOptions options;
  options.num_queries = 6;
  options.top = 5;
  options.title = "Test <report>";
  const ReportSummary s = write_report(dir + "/out", m, images, labels, images, labels, options);

  const std::string html = test::file_text(dir + "/out/index.html");
  // By construction: 2 class mates (green) then 3 others (red) for each of the 6 shown queries.
  EXPECT_EQ(count(html, "class=\"hit\""), 6 * 2);
  EXPECT_EQ(count(html, "class=\"miss\""), 6 * 3);
  EXPECT_EQ(count(html, "class=\"query\""), 6);
  EXPECT_EQ(s.hits, 12);
  EXPECT_EQ(s.misses, 18);
  EXPECT_EQ(s.shown_queries, (std::vector<int64_t>{0, 2, 4, 6, 8, 10}));  // i * 12 / 6
  EXPECT_EQ(s.unreadable_images, 1);
  // Self-contained: every src is a data URI, nothing linked.
  const int sources = count(html, "src=\"");
  EXPECT_EQ(sources, 1 + 6 + 6 * 5);  // the curve, the queries, the results
  EXPECT_EQ(count(html, "src=\"data:image/"), sources);
  EXPECT_EQ(count(html, "href="), 0);
  EXPECT_EQ(count(html, "url("), 0);
  EXPECT_EQ(count(html, "Test &lt;report&gt;"), 2);  // escaped in <title> and <h1>
  // The curve beside the page decodes to its size and is the one embedded.
  const std::string png = test::file_text(dir + "/out/recall_at_k.png");
  const RgbImage curve = decode_image_rgb(std::vector<uint8_t>(png.begin(), png.end()));
  EXPECT_EQ(curve.width, 560);
  EXPECT_EQ(curve.height, 360);
  EXPECT_NE(html.find(base64_encode(std::vector<uint8_t>(png.begin(), png.end()))), std::string::npos);
  // A class-1 thumbnail (300x150 source) was fitted into 128 pixels: find query 4's (class 1) JPEG and decode it.
  const std::regex query_img("<img class=\"query\" src=\"data:image/jpeg;base64,([^\"]+)\"");
  std::vector<std::string> uris;
  for (std::sregex_iterator it(html.begin(), html.end(), query_img), end; it != end; ++it) uris.push_back((*it)[1]);
  ASSERT_EQ(uris.size(), 6u);
  const RgbImage resized = decode_image_rgb(base64_decode(uris[2]));  // query 4, class 1
  EXPECT_EQ(resized.width, 128);
  EXPECT_EQ(resized.height, 64);
  const RgbImage kept = decode_image_rgb(base64_decode(uris[0]));  // query 0, class 0: 40x30, not enlarged
  EXPECT_EQ(kept.width, 40);
  EXPECT_EQ(kept.height, 30);
}

TEST(RetrievalReport, RejectsMismatchedLists) {
  const Tensor x = test::random_tensor({6, 4}, 3);
  const std::vector<int64_t> labels{0, 0, 1, 1, 2, 2};
  const RetrievalMetrics m = evaluate_leave_one_out(x, labels, {1}, Device::cpu());
  const std::vector<std::string> five(5, "a.png");
  EXPECT_THROW(write_report(test::scratch_dir("bad"), m, five, labels, five, labels), Error);
}

TEST(RetrievalPlot, DrawsEverySeriesInItsColourAtTheRequestedSize) {
  PlotSeries loss{"loss", {1, 2, 3, 4, 5}, {2.0, 1.4, 1.1, NAN, 0.8}};  // a NaN point is skipped, not fatal
  PlotSeries recall{"recall@1", {1, 2, 3, 4, 5}, {0.2, 0.4, 0.5, 0.55, 0.6}};
  PlotOptions o;
  o.width = 500;
  o.height = 300;
  o.title = "training";
  o.x_label = "epoch";
  const RgbImage one = render_line_plot({loss}, o), two = render_line_plot({loss, recall}, o);
  EXPECT_EQ(two.width, 500);
  EXPECT_EQ(two.height, 300);
  // tab10 blue for the first series, orange for the second; the second is absent from the one-series plot.
  EXPECT_GT(pixels_of_colour(two, 31, 119, 180), 200);
  EXPECT_GT(pixels_of_colour(two, 255, 127, 14), 200);
  EXPECT_EQ(pixels_of_colour(one, 255, 127, 14), 0);
  EXPECT_GT(pixels_of_colour(two, 0, 0, 0), 500);  // axes, ticks and text
  // The PNG written to disk decodes to the same pixels.
  const std::string path = test::scratch_dir("plot") + "/curves.png";
  write_line_plot_png(path, {loss, recall}, o);
  const RgbImage back = load_image_rgb(path);
  EXPECT_EQ(back.width, 500);
  EXPECT_EQ(back.height, 300);
  EXPECT_EQ(back.pixels, two.pixels);
}

TEST(RetrievalPlot, HigherValuesAreDrawnHigher) {
  // One series rising from the bottom left to the top right of the data: its leftmost coloured pixel column holds
  // its lowest point and its rightmost column its highest.
  PlotOptions o;
  const RgbImage img = render_line_plot({{"up", {1, 10}, {0, 1}}}, o);
  int left_x = img.width, right_x = -1, left_y = 0, right_y = 0;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      const uint8_t* p = img.at(x, y);
      if (p[0] != 31 || p[1] != 119 || p[2] != 180) continue;
      if (x < left_x) left_x = x, left_y = y;
      if (x > right_x) right_x = x, right_y = y;
    }
  ASSERT_GT(right_x, left_x + img.width / 2);
  EXPECT_GT(left_y, right_y + img.height / 2);  // image rows grow downwards
}

TEST(RetrievalPlot, TheLegendHidesNoPointOfTheSeries) {
  // A Recall@1 curve rises to the top right, where a legend fixed in that corner hid the last point. Every pixel
  // the series draws without a legend must still be drawn with one.
  for (const std::vector<double>& y : {std::vector<double>{0.52, 0.61, 0.68, 0.72, 0.76, 0.79, 0.81, 0.82},
                                       std::vector<double>{0.82, 0.81, 0.79, 0.76, 0.72, 0.68, 0.61, 0.52}}) {
    const std::vector<double> x{1, 2, 3, 4, 5, 6, 7, 8};
    PlotOptions o;
    const RgbImage bare = render_line_plot({{"", x, y}}, o), named = render_line_plot({{"Recall@1 (test)", x, y}}, o);
    int series_pixels = 0, hidden = 0;
    for (int py = 0; py < bare.height; ++py)
      for (int px = 0; px < bare.width; ++px) {
        const uint8_t* p = bare.at(px, py);
        if (p[0] != 31 || p[1] != 119 || p[2] != 180) continue;
        ++series_pixels;
        const uint8_t* q = named.at(px, py);
        hidden += q[0] != 31 || q[1] != 119 || q[2] != 180;
      }
    EXPECT_GT(series_pixels, 500);
    EXPECT_EQ(hidden, 0) << "the legend covers " << hidden << " pixels of the series";
  }
}

TEST(RetrievalPlot, DegenerateInputsStillRender) {
  PlotOptions o;
  o.log_x = true;
  EXPECT_EQ(render_line_plot({}, o).width, o.width);
  EXPECT_EQ(render_line_plot({{"one point", {4}, {0.5}}}, o).height, o.height);
  EXPECT_EQ(render_line_plot({{"non-positive x on a log axis", {0, -1}, {1, 2}}}, o).width, o.width);
  EXPECT_THROW(render_line_plot({{"bad", {1, 2}, {1}}}, o), Error);
}
