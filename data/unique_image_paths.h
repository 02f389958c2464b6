// Each image of a dataset listed once. A second listing of one file would rank the image against itself in
// evaluation (a match at rank 1 that no real query has) or weigh it twice in training, so the readers refuse it,
// naming both listings. Paths are compared after lexical normalisation: "a/./b.jpg" and "a//b.jpg" are "a/b.jpg".
#pragma once
#include <string>
#include <unordered_map>

namespace sgml {

class UniqueImagePaths {
 public:
  // `where` names this listing as errors do ("'images.txt' line 8"); fails when `path` was listed before.
  void add(const std::string& path, const std::string& where);

 private:
  std::unordered_map<std::string, std::string> first_listing_;  // normalised path -> where it was listed
};

}  // namespace sgml
