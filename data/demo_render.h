// The synthetic "items" of the demo datasets and how one view of an item is drawn.
//
// An item is a flat object on a background, described by five attributes shared across items (shape, colour,
// pattern, size, background: 8 + 8 + 6 + 3 + 4 = 29 binary attributes, one of each group present) plus details of
// its own (exact hue, pattern period and phase, the tone of the pattern's second colour, a small mark at a place
// on the object). Items that share attributes look alike at a coarse level, and only the details tell two items
// with the same attributes apart, so the data is similar at several granularities (the paper's Fig. 1: category,
// attributes, item). A view moves, scales and rotates the object, tints the light and adds sensor noise.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/image_io.h"

namespace sgml {

struct DemoAttributeGroup {
  const char* name;                 // "shape"
  std::vector<const char*> values;  // "circle", "square", ...
};
// The five groups, in the order of the attribute vector.
const std::vector<DemoAttributeGroup>& demo_attribute_groups();
int demo_num_attributes();  // 29

struct DemoItem {
  int value[5] = {0, 0, 0, 0, 0};  // index into each group's values
  // Details of this item alone.
  float hue_shift[3] = {0, 0, 0};  // added to the base colour (0..1 scale)
  float pattern_period = 0.5f;     // in object radii
  float pattern_phase = 0;         // fraction of a period
  float second_tone = 0.5f;        // the pattern's second colour: base mixed towards white (>0) or black (<0)
  float mark_angle = 0;            // radians, polar angle of the mark on the object
  bool mark_light = false;         // a light or a dark mark

  std::vector<float> attribute_vector() const;  // 0/1, demo_num_attributes() values
};

// `count` items with pairwise different attribute combinations, reproducible from the seed.
std::vector<DemoItem> make_demo_items(int count, uint64_t seed);

struct DemoView {
  float center_x = 0, center_y = 0;  // pixels
  float radius = 10;                 // pixels: the object's outer radius
  float rotation = 0;                // radians
  float brightness = 1;
  float light_direction = 0;         // radians: the background's brightness gradient
  uint64_t noise_seed = 0;
};

// A random view of an object of `item`'s size on a width x height canvas, the object wholly inside.
DemoView draw_demo_view(const DemoItem& item, int width, int height, uint64_t seed);
RgbImage render_demo_view(const DemoItem& item, const DemoView& view, int width, int height);

}  // namespace sgml
