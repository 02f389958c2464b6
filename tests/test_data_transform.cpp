// The data transform against torchvision (tests/reference/transforms_ref.py), and the augmentation's statistics.
//
// Tolerances, in 8-bit levels (one level = 1/255 before normalisation; ours and the reference are both quantised
// to 8 bits after the resize, so one level of rounding is always allowed):
//   - crop, flip, normalisation with no resampling (a window already S x S): exact up to float rounding (1e-5).
//   - upscaling: stb's triangle filter is bilinear interpolation with half-pixel centres, as torch's
//     (antialias=False) and PIL's: at most 1 level everywhere (rounding).
//   - downscaling: stb widens the triangle with the scale factor like PIL's antialiased BILINEAR and torch's
//     antialias=True, but treats the border differently (stb clamps: outside pixels repeat the edge; PIL and torch
//     drop them and renormalise), so the outermost output rows/columns may differ by a few levels. Allowed: 1 level
//     inside a 1-pixel border, 6 on it, mean 0.3. Measured (150x120 -> 64 and a 240x243 crop -> 96): PIL 1 / 4 /
//     0.20, torch antialias=True 0 / 4 / 0.06 (interior / border / mean). Upscaling measured 1 / 1 / 0.19 against
//     PIL (its 8-bit fixed-point weights) and 1 / 1 / 0.002 against torch. torch's antialias=False path (which skips
//     pixels when shrinking: 28 levels here) is not what we compute; it is only reported.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <random>

#include "data/image_decode.h"
#include "data/image_transform.h"
#include "engine/check.h"
#include "engine/safetensors.h"
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

RgbImage textured_image(int w, int h, unsigned seed) {
  // Smooth structure plus noise: like a photograph, harder than a flat image, less adversarial than pure noise.
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> noise(-30, 30);
  RgbImage im(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        const float v = 128 + 70 * std::sin(0.21f * x + 0.9f * c) * std::cos(0.17f * y - 0.4f * c) + noise(rng);
        im.at(x, y)[c] = uint8_t(std::clamp(std::lround(v), 0L, 255L));
      }
  return im;
}

struct Case {
  std::string name;
  RgbImage image;
  PixelWindow window;
  bool flip;
  int size;
};

// Differences in 8-bit levels, split into the 1-pixel border and the interior of the (3, S, S) output.
struct LevelError {
  double max_interior = 0, max_border = 0, mean = 0;
};

LevelError level_error(const std::vector<float>& ours, const std::vector<float>& ref, int s) {
  LevelError e;
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < s; ++y)
      for (int x = 0; x < s; ++x) {
        const size_t i = (size_t(c) * s + y) * s + x;
        const double d = std::fabs(double(ours[i]) - ref[i]) * kImageNetStd[c] * 255.0;
        const bool border = x == 0 || y == 0 || x == s - 1 || y == s - 1;
        (border ? e.max_border : e.max_interior) = std::max(border ? e.max_border : e.max_interior, d);
        e.mean += d / (3.0 * s * s);
      }
  return e;
}

// Runs transforms_ref.py MODE on images with six parameters each; returns its outputs by key ("pil_up", ...).
struct ReferenceCase {
  std::string name;
  const RgbImage* image;
  std::vector<float> params;  // (6)
};
std::map<std::string, std::vector<float>> transform_reference(const std::string& mode,
                                                              const std::vector<ReferenceCase>& cases) {
  const std::string dir = test::scratch_dir("transform_" + mode);
  TensorMap in;
  for (const ReferenceCase& k : cases) {
    std::vector<float> px(k.image->pixels.begin(), k.image->pixels.end());
    in["image_" + k.name] = Tensor::from_vector(px, {k.image->height, k.image->width, 3});
    in["params_" + k.name] = Tensor::from_vector(k.params, {6});
  }
  save_safetensors(dir + "/in.safetensors", in);
  test::run_reference("transforms_ref.py", {mode, dir + "/in.safetensors", dir + "/out.safetensors"});
  std::map<std::string, std::vector<float>> out;
  for (const auto& [name, t] : load_safetensors(dir + "/out.safetensors")) out[name] = t.to_vector();
  return out;
}

class DataTransform : public ::testing::Test {
 protected:
  // Every case through the reference's crop + resize paths.
  std::map<std::string, std::vector<float>> reference(const std::vector<Case>& cases) {
    std::vector<ReferenceCase> in;
    for (const Case& k : cases)
      in.push_back({k.name, &k.image, {float(k.window.y), float(k.window.x), float(k.window.height),
                                       float(k.window.width), float(k.flip), float(k.size)}});
    return transform_reference("cases", in);
  }
  static std::vector<float> ours(const Case& k) {
    std::vector<float> out(size_t(3) * k.size * k.size);
    resize_normalise(out.data(), k.image, k.window, k.flip, k.size);
    return out;
  }
};

TEST_F(DataTransform, CropFlipNormaliseWithoutResamplingIsExact) {
  const std::vector<Case> cases = {
      {"identity", textured_image(48, 48, 1), {0, 0, 48, 48}, false, 48},
      {"box", textured_image(70, 50, 2), {9, 5, 32, 32}, true, 32},  // a CUB-like box crop, mirrored
  };
  auto ref = reference(cases);
  for (const Case& k : cases) {
    const std::vector<float> mine = ours(k);
    for (const char* path : {"pil_", "tensor_"}) {
      double worst = 0;
      for (size_t i = 0; i < mine.size(); ++i)
        worst = std::max(worst, double(std::fabs(mine[i] - ref[path + k.name][i])));
      std::printf("%s vs %s%s: max |difference| %.3g (normalised units)\n", k.name.c_str(), path, k.name.c_str(),
                  worst);
      EXPECT_LT(worst, 1e-5) << k.name << " vs " << path;
    }
  }
}

TEST_F(DataTransform, ResizeMatchesTorchvisionBilinear) {
  const std::vector<Case> cases = {
      {"up", textured_image(40, 30, 3), {0, 0, 40, 30}, false, 64},
      {"up_crop_flip", textured_image(50, 44, 4), {3, 6, 41, 37}, true, 64},
      {"down", textured_image(150, 120, 5), {0, 0, 150, 120}, false, 64},
      {"down_crop_flip", textured_image(256, 256, 6), {11, 7, 240, 243}, true, 96},  // the paper's 0.9-1.0 crop
  };
  auto ref = reference(cases);
  for (const Case& k : cases) {
    const std::vector<float> mine = ours(k);
    const bool up = k.window.width < k.size;
    const LevelError pil = level_error(mine, ref["pil_" + k.name], k.size);
    const LevelError plain = level_error(mine, ref["tensor_" + k.name], k.size);
    const LevelError aa = level_error(mine, ref["tensor_aa_" + k.name], k.size);
    std::printf("%-15s levels, max interior / max border / mean: PIL %.2f / %.2f / %.3f, tensor %.2f / %.2f / %.3f, "
                "tensor antialias %.2f / %.2f / %.3f\n", k.name.c_str(), pil.max_interior, pil.max_border, pil.mean,
                plain.max_interior, plain.max_border, plain.mean, aa.max_interior, aa.max_border, aa.mean);
    const double rounding = 1.0 + 1e-3;
    if (up) {
      for (const LevelError& e : {pil, plain}) {
        EXPECT_LE(e.max_interior, rounding) << k.name;
        EXPECT_LE(e.max_border, rounding) << k.name;
      }
    } else {
      for (const LevelError& e : {pil, aa}) {
        EXPECT_LE(e.max_interior, rounding) << k.name;
        EXPECT_LE(e.max_border, 6.0) << k.name;
        EXPECT_LT(e.mean, 0.3) << k.name;
      }
    }
  }
}

// The evaluation transform of the Divide & Conquer authors (--eval-resize R): torchvision's Resize(R) (shorter side,
// PIL BILINEAR) then CenterCrop(S), on the whole image or a box. Same tolerances as the resize above: the resized
// image is made by the same stb triangle filter, and the centre crop only selects its pixels. The geometry is
// exact: the cases put the crop at offsets x.5, which Python rounds half to even (13.5 -> 14, 12.5 -> 12).
TEST(DataTransformResizeCrop, MatchesTorchvisionResizeThenCenterCrop) {
  struct ResizeCase {
    std::string name;
    RgbImage image;
    PixelWindow region;
    int resize, size;
  };
  const std::vector<ResizeCase> cases = {
      {"wide_half_up", textured_image(253, 200, 11), {0, 0, 253, 200}, 72, 64},   // 91 x 72: left 13.5 -> 14
      {"tall_half_down", textured_image(200, 248, 12), {0, 0, 200, 248}, 72, 64}, // 72 x 89: top 12.5 -> 12
      {"box", textured_image(180, 150, 13), {17, 9, 121, 133}, 80, 64},           // a CUB-like box, then resize
      {"upscale", textured_image(40, 30, 14), {0, 0, 40, 30}, 48, 40},            // 64 x 48, enlarged
      {"square_equal", textured_image(64, 64, 15), {0, 0, 64, 64}, 64, 64},       // nothing to do: a copy
  };
  std::vector<ReferenceCase> in;
  for (const ResizeCase& k : cases)
    in.push_back({k.name, &k.image, {float(k.region.y), float(k.region.x), float(k.region.height),
                                     float(k.region.width), float(k.resize), float(k.size)}});
  const std::map<std::string, std::vector<float>> ref = transform_reference("resize_crop", in);
  for (const ResizeCase& k : cases) {
    std::vector<float> mine(size_t(3) * k.size * k.size);
    // The box as transform_image receives it from a dataset (region_of_interest turns it back into the window).
    const BoundingBox box{float(k.region.x), float(k.region.y), float(k.region.width), float(k.region.height)};
    transform_image(mine.data(), k.image, box, k.size, Augmentation{}, k.resize);
    const LevelError e = level_error(mine, ref.at("pil_" + k.name), k.size);
    std::printf("%-15s levels vs PIL Resize + CenterCrop, max interior / max border / mean: %.2f / %.2f / %.3f\n",
                k.name.c_str(), e.max_interior, e.max_border, e.mean);
    const double rounding = 1.0 + 1e-3;
    EXPECT_LE(e.max_interior, rounding) << k.name;
    EXPECT_LE(e.max_border, 6.0) << k.name;
    EXPECT_LT(e.mean, 0.3) << k.name;
    if (k.name == "square_equal") EXPECT_LT(e.max_border, 1e-3);  // no resampling at all
  }
  // The geometry itself, as torchvision computes it: Resize(72) sets the short side to 72 and the long one to
  // int(72 * long / short); CenterCrop(64) starts at int(round((side - 64) / 2)), Python's round halving to even.
  //   253 x 200: width int(72 * 253 / 200) = int(91.08) = 91; x round(13.5) = 14, y round(4.0) = 4.
  //   200 x 248: height int(72 * 248 / 200) = int(89.28) = 89; y round(12.5) = 12 (to even, not 13).
  const ResizeCentreCrop wide = resize_centre_crop_geometry(253, 200, 72, 64);
  EXPECT_EQ(wide.resized_width, 91);
  EXPECT_EQ(wide.resized_height, 72);
  EXPECT_EQ(wide.crop.x, 14);
  EXPECT_EQ(wide.crop.y, 4);
  const ResizeCentreCrop tall = resize_centre_crop_geometry(200, 248, 72, 64);
  EXPECT_EQ(tall.resized_height, 89);
  EXPECT_EQ(tall.crop.y, 12);
}

// Our random draws replayed through torchvision's RandomResizedCrop.get_params (tests/reference/transforms_ref.py
// stands in for torch.empty(1).uniform_ and torch.randint with the recorded numbers): the same windows, on regions
// of every shape, including those whose attempts all fail (a 1-pixel-high strip, 3:1, 1:9) and fall back to the
// centre crop. Exact: the windows are integers, and both sides compute the same double-precision arithmetic.
struct RecordedDraws {
  RandomStream rng;
  std::vector<double> uniforms;
  std::vector<std::pair<int64_t, int64_t>> belows;
  double uniform(double lo, double hi) {
    const double u = rng.uniform();
    uniforms.push_back(u);
    return lo + (hi - lo) * u;  // as RandomStream::uniform(lo, hi)
  }
  int64_t below(int64_t n) {
    const int64_t r = rng.below(n);
    belows.emplace_back(n, r);
    return r;
  }
};

TEST(DataTransformRandomResized, WindowsMatchTorchvisionGivenTheSameDraws) {
  const std::vector<std::pair<int, int>> shapes = {{256, 256}, {500, 333}, {333, 500}, {64, 64},  {1, 1},
                                                   {2, 3},     {300, 1},   {90, 30},   {20, 180}, {7, 1000}};
  nlohmann::json cases = nlohmann::json::array();
  std::vector<PixelWindow> ours;
  int fallbacks = 0;
  for (size_t s = 0; s < shapes.size(); ++s)
    for (uint64_t draw = 0; draw < 150; ++draw) {
      const PixelWindow region{0, 0, shapes[s].first, shapes[s].second};
      RecordedDraws d{RandomStream(mix_seed(77, s, draw)), {}, {}};
      ours.push_back(random_resized_window(region, d));
      fallbacks += d.belows.empty();
      const PixelWindow& w = ours.back();
      ASSERT_TRUE(w.x >= 0 && w.y >= 0 && w.width >= 1 && w.height >= 1 && w.x + w.width <= region.width &&
                  w.y + w.height <= region.height) << shapes[s].first << "x" << shapes[s].second;
      nlohmann::json belows = nlohmann::json::array();
      for (const auto& [n, r] : d.belows) belows.push_back({n, r});
      cases.push_back(
          {{"width", region.width}, {"height", region.height}, {"uniforms", d.uniforms}, {"belows", belows}});
    }
  std::printf("%zu windows, %d of them from the fallback centre crop\n", ours.size(), fallbacks);
  EXPECT_GT(fallbacks, 150);  // the strips always fall back; the ordinary shapes sometimes do
  const std::string dir = test::scratch_dir("random_resized");
  std::ofstream(dir + "/in.json") << nlohmann::json{{"cases", cases}}.dump();
  test::run_reference("transforms_ref.py", {"random_resized", dir + "/in.json", dir + "/out.json"});
  const nlohmann::json ref = nlohmann::json::parse(std::ifstream(dir + "/out.json"));
  ASSERT_EQ(ref.at("windows").size(), ours.size());
  int differ = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    const auto& r = ref.at("windows")[i];  // [top, left, height, width]
    const PixelWindow& w = ours[i];
    if (r[0] != w.y || r[1] != w.x || r[2] != w.height || r[3] != w.width) {
      if (++differ <= 5)
        ADD_FAILURE() << "case " << i << ": ours x " << w.x << " y " << w.y << " " << w.width << "x" << w.height
                      << ", torchvision " << r.dump();
    }
  }
  EXPECT_EQ(differ, 0);
}

TEST(DataTransformRandomResized, AreaAndAspectFollowTorchvisionsDistribution) {
  // The statistics of the draws on a large square region. An attempt (area fraction a uniform in [0.08, 1], log
  // aspect ratio t uniform in [-L, L], L = log 4/3) fits when a <= m(t) = exp(-|t|), and the first that fits is
  // kept, so the kept windows follow the draws conditioned on fitting:
  //   E[a | fit] = E_t[(m^2 - 0.08^2) / 2] / E_t[m - 0.08],  E_t[m] = (1 - e^-L) / L,  E_t[m^2] = (1 - e^-2L) / 2L;
  // and t stays symmetric (mean 0). Tolerances: over 4 standard errors (a: sd about 0.24, t: 0.17; 20 000 draws).
  const PixelWindow region{3, 5, 2000, 2000};
  const int draws = 20000;
  double sum_area = 0, sum_log_ratio = 0, min_ratio = 10, max_ratio = 0;
  int flips = 0;
  for (int i = 0; i < draws; ++i) {
    const AugmentationDraw d = draw_augmentation(region, mix_seed(9, uint64_t(i), 1), TrainCrop::RandomResized);
    const double ratio = double(d.window.width) / d.window.height;
    sum_area += double(d.window.width) * d.window.height / (2000.0 * 2000.0);
    sum_log_ratio += std::log(ratio);
    min_ratio = std::min(min_ratio, ratio);
    max_ratio = std::max(max_ratio, ratio);
    flips += d.flip;
  }
  const double L = std::log(4.0 / 3.0), m1 = (1 - std::exp(-L)) / L, m2 = (1 - std::exp(-2 * L)) / (2 * L);
  const double expected_area = (m2 - 0.08 * 0.08) / 2 / (m1 - 0.08);
  std::printf("mean area %.4f (expected %.4f), mean log ratio %.4f, ratio %.4f-%.4f, flips %.4f\n", sum_area / draws,
              expected_area, sum_log_ratio / draws, min_ratio, max_ratio, double(flips) / draws);
  EXPECT_NEAR(sum_area / draws, expected_area, 0.007);
  EXPECT_NEAR(sum_log_ratio / draws, 0.0, 0.005);
  EXPECT_GE(min_ratio, 0.75 - 0.001);  // the sides are rounded to pixels: 1/2000 at most here
  EXPECT_LE(max_ratio, 4.0 / 3.0 + 0.001);
  EXPECT_NEAR(double(flips) / draws, 0.5, 0.015);
}

TEST(DataTransformStats, AugmentationDrawsCoverTheRange) {
  // Independent streams per (seed, step, position): the crop's area fraction is uniform in [0.9, 1] (up to the
  // rounding of the sides), the aspect ratio is kept, the position covers the whole slack, flips half of the time.
  const PixelWindow region{5, 7, 200, 160};
  const int draws = 20000;
  int flips = 0, at_left = 0, at_right = 0;
  double sum_area = 0, min_area = 2, max_area = 0;
  for (int i = 0; i < draws; ++i) {
    const AugmentationDraw d = draw_augmentation(region, mix_seed(42, uint64_t(i), 7));
    const double area = double(d.window.width) * d.window.height / (double(region.width) * region.height);
    sum_area += area;
    min_area = std::min(min_area, area);
    max_area = std::max(max_area, area);
    flips += d.flip;
    ASSERT_GE(d.window.x, region.x);
    ASSERT_GE(d.window.y, region.y);
    ASSERT_LE(d.window.x + d.window.width, region.x + region.width);
    ASSERT_LE(d.window.y + d.window.height, region.y + region.height);
    EXPECT_NEAR(double(d.window.width) / d.window.height, 200.0 / 160.0, 0.02);
    at_left += d.window.x == region.x;
    at_right += d.window.x + d.window.width == region.x + region.width;
  }
  const double mean_area = sum_area / draws, flip_rate = double(flips) / draws;
  std::printf("area fraction: min %.4f mean %.4f max %.4f; flip rate %.4f\n", min_area, mean_area, max_area, flip_rate);
  // Side rounding moves the area by at most about 1/100 here (one pixel of 160).
  EXPECT_GE(min_area, 0.9 - 0.012);
  EXPECT_LT(min_area, 0.905);
  EXPECT_LE(max_area, 1.0);
  EXPECT_GT(max_area, 0.995);
  EXPECT_NEAR(mean_area, 0.95, 0.003);  // uniform mean; the standard error is 0.0002
  EXPECT_NEAR(flip_rate, 0.5, 0.015);   // 4.2 standard errors (sqrt(0.25 / 20000) = 0.0035)
  EXPECT_GT(at_left, 0);
  EXPECT_GT(at_right, 0);
}

TEST(DataTransformStats, EvaluationTransformHasNoRandomness) {
  const RgbImage im = textured_image(64, 64, 9);
  std::vector<float> a(3 * 64 * 64), b(3 * 64 * 64);
  transform_image(a.data(), im, {}, 64, Augmentation{false, 1});
  transform_image(b.data(), im, {}, 64, Augmentation{false, 2});
  EXPECT_EQ(a, b);
  // and a training draw depends only on its seed
  transform_image(a.data(), im, {}, 64, Augmentation{true, 5});
  transform_image(b.data(), im, {}, 64, Augmentation{true, 5});
  EXPECT_EQ(a, b);
}

TEST(DataTransformStats, BoxIsClampedToTheImage) {
  EXPECT_EQ(region_of_interest(100, 80, {60.0f, 27.0f, 325.0f, 304.0f}).width, 40);  // past the right edge
  const PixelWindow w = region_of_interest(100, 80, {-5.5f, 10.2f, 20.0f, 30.5f});
  EXPECT_EQ(w.x, 0);
  EXPECT_EQ(w.y, 10);
  EXPECT_EQ(w.width, 15);   // ceil(-5.5 + 20) - 0
  EXPECT_EQ(w.height, 31);  // ceil(40.7) - 10
  const PixelWindow corner = region_of_interest(100, 80, {99.5f, 79.9f, 10.0f, 10.0f});  // one pixel in common
  EXPECT_EQ(corner.x, 99);
  EXPECT_EQ(corner.y, 79);
  EXPECT_EQ(corner.width, 1);
  EXPECT_EQ(corner.height, 1);
  // A box with no pixel in common is an error (it belongs to another image, or is wrong), on each side.
  for (const BoundingBox& outside : {BoundingBox{500.0f, 5.0f, 10.0f, 10.0f}, BoundingBox{5.0f, 80.0f, 10.0f, 10.0f},
                                     BoundingBox{-10.0f, 5.0f, 10.0f, 10.0f}, BoundingBox{5.0f, -20.5f, 10.0f, 20.5f}})
    EXPECT_THROW(region_of_interest(100, 80, outside), sgml::Error) << outside.x << " " << outside.y;
  const PixelWindow none = region_of_interest(100, 80, {});
  EXPECT_EQ(none.width, 100);
  EXPECT_EQ(none.height, 80);
}

TEST(DataTransformStats, LoadImageForModelNormalises) {
  // A flat image of known colour: every output value is (v / 255 - mean) / std.
  const std::string dir = test::scratch_dir("flat");
  RgbImage im(20, 12);
  for (int y = 0; y < 12; ++y)
    for (int x = 0; x < 20; ++x) {
      im.at(x, y)[0] = 200;
      im.at(x, y)[1] = 100;
      im.at(x, y)[2] = 0;
    }
  write_png(dir + "/flat.png", im);
  const Tensor t = load_image_for_model(dir + "/flat.png", 16);
  ASSERT_EQ(t.shape(), (Shape{3, 16, 16}));
  const float expected[3] = {(200 / 255.0f - 0.485f) / 0.229f, (100 / 255.0f - 0.456f) / 0.224f, (0 - 0.406f) / 0.225f};
  const std::vector<float> v = t.to_vector();
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 256; ++i) ASSERT_NEAR(v[size_t(c) * 256 + i], expected[c], 1e-5) << c;
}

}  // namespace
