// A small generated In-shop dataset for the tests of the data path under bad input (through its functions and
// through the sgml program).
#pragma once
#include <string>

#include "data/dataset.h"

namespace sgml::test {

// A fresh scratch folder `name` holding a small In-shop dataset in the official layout: 6 training and 4 test
// items of 4 views at 40 x 40 px, 2 views of each test item as queries.
std::string small_inshop(const std::string& name);
// That dataset as `deepfashion` reads it (the kind set, so that nothing regenerates it).
Dataset read_small_inshop(const std::string& dir);
// Replaces an image file by a folder of the same name: an unreadable path that is not a missing one.
void replace_with_directory(const std::string& path);

}  // namespace sgml::test
