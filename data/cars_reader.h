// Cars196 (Stanford Cars), as the official archive lays it out (shared/datasets.md), DIR = the folder holding car_ims/
// and cars_annos.mat. cars_annos.mat is a MATLAB v5 file read with libmatio (Debian's libmatio-dev, maintained, the
// reference MAT-file library in C): a hand-written MAT parser would have to handle compression, both char encodings
// and every numeric class the file may use.
//   annotations   1 x N struct array: relative_im_path (char, e.g. car_ims/000001.jpg, relative to DIR), bbox_x1,
//                 bbox_y1, bbox_x2, bbox_y2 (1-based inclusive pixels), class (1..C), test (0/1: the classification
//                 split, read and checked but not used); each number a 1 x 1 matrix of any numeric class
//   class_names   1 x C cell array of strings
// Metric-learning split: the first half of the classes (1-98) trains (8,054 images), the rest (99-196) is the
// leave-one-out test set (8,131 images); labels dense per split in class order; the item of an image is its class id.
// The bounding boxes are kept only when asked (CarsOptions::crop; most metric-learning work does not crop).
// No attributes. Errors name the file and the record (1-based): the file is not a MAT file, a variable or a field
// is missing or has the wrong type or size or holds less data than its dimensions claim, a class outside 1..C, a box
// outside the order x1 <= x2, y1 <= y2, a path listed twice, an image that is not on disk (the first such record, and
// how many there are).
#pragma once
#include <string>

#include "data/dataset.h"

namespace sgml {

struct CarsOptions {
  bool crop = false;  // crop each image to its bounding box before any other transform
};

Dataset read_cars(const std::string& root, const CarsOptions& options = {});

}  // namespace sgml
