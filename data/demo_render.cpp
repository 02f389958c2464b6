#include "data/demo_render.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "data/random_stream.h"
#include "engine/check.h"

namespace sgml {

namespace {

constexpr float kPi = 3.14159265358979f;
enum Group { kShape, kColour, kPattern, kSize, kBackground };

const float kColours[8][3] = {{0.85f, 0.15f, 0.15f}, {0.95f, 0.55f, 0.10f}, {0.95f, 0.88f, 0.20f},
                              {0.20f, 0.70f, 0.25f}, {0.10f, 0.65f, 0.65f}, {0.15f, 0.30f, 0.85f},
                              {0.55f, 0.20f, 0.75f}, {0.95f, 0.50f, 0.70f}};
const float kBackgrounds[4][3] = {
    {0.82f, 0.82f, 0.82f}, {0.90f, 0.84f, 0.70f}, {0.72f, 0.82f, 0.92f}, {0.30f, 0.30f, 0.32f}};
const float kSizes[3] = {0.20f, 0.27f, 0.34f};  // object radius / the canvas's shorter side

// Is the point (u, v), in object radii, inside the shape?
bool inside_shape(int shape, float u, float v) {
  const float r = std::sqrt(u * u + v * v);
  switch (shape) {
    case 0: return r <= 1.0f;                                            // circle
    case 1: return std::max(std::fabs(u), std::fabs(v)) <= 0.8f;         // square
    case 2: {                                                            // triangle, a vertex up (v grows downwards)
      for (float a : {-kPi / 2 + kPi, -kPi / 2 + kPi / 3, -kPi / 2 - kPi / 3})
        if (u * std::cos(a) + v * std::sin(a) > 0.5f) return false;
      return true;
    }
    case 3: return std::fabs(u) + std::fabs(v) <= 1.0f;                  // diamond
    case 4: return r <= 0.55f + 0.45f * (0.5f + 0.5f * std::cos(5 * std::atan2(v, u)));  // star (flower)
    case 5: return r <= 1.0f && r >= 0.55f;                              // ring
    case 6: return (std::fabs(u) <= 0.32f && std::fabs(v) <= 0.95f) || (std::fabs(v) <= 0.32f && std::fabs(u) <= 0.95f);
    default: {                                                           // hexagon
      for (float a : {0.0f, kPi / 3, 2 * kPi / 3})
        if (std::fabs(u * std::cos(a) + v * std::sin(a)) > 0.87f) return false;
      return true;
    }
  }
}

// Is (u, v) on the pattern's second colour?
bool on_second_colour(const DemoItem& item, float u, float v) {
  const float p = item.pattern_period, ph = item.pattern_phase;
  auto odd = [](float t) { return (int64_t(std::floor(t)) & 1) != 0; };
  switch (item.value[kPattern]) {
    case 0: return false;                                        // solid
    case 1: return odd(v / p + ph);                              // horizontal stripes
    case 2: return odd(u / p + ph);                              // vertical stripes
    case 3: return odd((u + v) / (1.41421356f * p) + ph);        // diagonal stripes
    case 4: {                                                    // dots
      const float fu = u / p + ph - std::floor(u / p + ph) - 0.5f, fv = v / p + ph - std::floor(v / p + ph) - 0.5f;
      return fu * fu + fv * fv < 0.09f;
    }
    default: return odd(std::floor(u / p + ph) + std::floor(v / p + ph));  // checker
  }
}

}  // namespace

const std::vector<DemoAttributeGroup>& demo_attribute_groups() {
  static const std::vector<DemoAttributeGroup> groups = {
      {"shape", {"circle", "square", "triangle", "diamond", "star", "ring", "cross", "hexagon"}},
      {"colour", {"red", "orange", "yellow", "green", "teal", "blue", "purple", "pink"}},
      {"pattern", {"solid", "horizontal stripes", "vertical stripes", "diagonal stripes", "dots", "checker"}},
      {"size", {"small", "medium", "large"}},
      {"background", {"light grey", "beige", "light blue", "dark grey"}},
  };
  return groups;
}

int demo_num_attributes() {
  int k = 0;
  for (const auto& g : demo_attribute_groups()) k += int(g.values.size());
  return k;
}

std::vector<float> DemoItem::attribute_vector() const {
  std::vector<float> v;
  const auto& groups = demo_attribute_groups();
  for (size_t g = 0; g < groups.size(); ++g)
    for (size_t i = 0; i < groups[g].values.size(); ++i) v.push_back(int(i) == value[g] ? 1.0f : 0.0f);
  return v;
}

std::vector<DemoItem> make_demo_items(int count, uint64_t seed) {
  const auto& groups = demo_attribute_groups();
  int combinations = 1;
  for (const auto& g : groups) combinations *= int(g.values.size());
  SGML_CHECK(count >= 0 && count <= combinations, "the demo has ", combinations, " attribute combinations; asked for ",
             count, " items");
  RandomStream rng(mix_seed(seed, 0xD3E0, 1));
  std::vector<int> combo(static_cast<size_t>(combinations));
  std::iota(combo.begin(), combo.end(), 0);
  std::vector<DemoItem> items(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    std::swap(combo[size_t(i)], combo[size_t(i + rng.below(combinations - i))]);  // partial Fisher-Yates
    DemoItem& it = items[size_t(i)];
    int c = combo[size_t(i)];
    for (size_t g = 0; g < groups.size(); ++g) {
      it.value[g] = c % int(groups[g].values.size());
      c /= int(groups[g].values.size());
    }
    for (float& h : it.hue_shift) h = float(rng.uniform(-0.08, 0.08));
    it.pattern_period = float(rng.uniform(0.35, 0.6));
    it.pattern_phase = float(rng.uniform());
    it.second_tone = float(rng.uniform() < 0.5 ? rng.uniform(0.45, 0.8) : -rng.uniform(0.45, 0.8));
    it.mark_angle = float(rng.uniform(0, 2 * kPi));
    it.mark_light = rng.uniform() < 0.5;
  }
  return items;
}

DemoView draw_demo_view(const DemoItem& item, int width, int height, uint64_t seed) {
  RandomStream rng(seed);
  DemoView v;
  v.radius = kSizes[item.value[kSize]] * float(std::min(width, height)) * float(rng.uniform(0.88, 1.12));
  const float room_x = std::max(0.0f, width / 2.0f - v.radius - 1),
              room_y = std::max(0.0f, height / 2.0f - v.radius - 1);
  v.center_x = width / 2.0f + float(rng.uniform(-1, 1)) * std::min(room_x, 0.14f * width);
  v.center_y = height / 2.0f + float(rng.uniform(-1, 1)) * std::min(room_y, 0.14f * height);
  v.rotation = float(rng.uniform(-0.5, 0.5));  // about +-29 degrees
  v.brightness = float(rng.uniform(0.88, 1.12));
  v.light_direction = float(rng.uniform(0, 2 * kPi));
  v.noise_seed = rng.next();
  return v;
}

RgbImage render_demo_view(const DemoItem& item, const DemoView& view, int width, int height) {
  RgbImage image(width, height);
  float base[3], second[3];
  for (int c = 0; c < 3; ++c) {
    base[c] = std::clamp(kColours[item.value[kColour]][c] + item.hue_shift[c], 0.0f, 1.0f);
    second[c] = item.second_tone > 0 ? base[c] + (1 - base[c]) * item.second_tone : base[c] * (1 + item.second_tone);
  }
  const float* background = kBackgrounds[item.value[kBackground]];
  const float cr = std::cos(view.rotation), sr = std::sin(view.rotation);
  const float mark_u = 0.78f * std::cos(item.mark_angle), mark_v = 0.78f * std::sin(item.mark_angle);
  const float lx = std::cos(view.light_direction), ly = std::sin(view.light_direction);
  const float extent = float(std::max(width, height));
  RandomStream noise(view.noise_seed);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      float sum[3] = {0, 0, 0};
      for (int s = 0; s < 4; ++s) {  // 2 x 2 samples per pixel against jagged edges
        const float px = x + 0.25f + 0.5f * float(s & 1), py = y + 0.25f + 0.5f * float(s >> 1);
        const float dx = px - view.center_x, dy = py - view.center_y;
        const float u = (cr * dx + sr * dy) / view.radius, v = (-sr * dx + cr * dy) / view.radius;
        const float* colour;
        float light[3];
        if (inside_shape(item.value[kShape], u, v)) {
          const float mu = u - mark_u, mv = v - mark_v;
          static const float kLight[3] = {0.97f, 0.97f, 0.95f}, kDark[3] = {0.08f, 0.08f, 0.10f};
          colour = mu * mu + mv * mv < 0.16f * 0.16f ? (item.mark_light ? kLight : kDark)
                   : on_second_colour(item, u, v)    ? second
                                                     : base;
        } else {
          const float g = 1 + 0.15f * ((px - width / 2.0f) * lx + (py - height / 2.0f) * ly) / extent;
          for (int c = 0; c < 3; ++c) light[c] = background[c] * g;
          colour = light;
        }
        for (int c = 0; c < 3; ++c) sum[c] += colour[c];
      }
      uint8_t* out = image.at(x, y);
      for (int c = 0; c < 3; ++c) {
        // Gaussian sensor noise (Box-Muller), sigma 4 levels.
        const double u1 = 1.0 - noise.uniform(), u2 = noise.uniform();
        const double n = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * 3.141592653589793 * u2);
        const double value = 255.0 * sum[c] / 4 * view.brightness + 4.0 * n;
        out[c] = uint8_t(std::clamp(std::lround(value), 0L, 255L));
      }
    }
  return image;
}

}  // namespace sgml
