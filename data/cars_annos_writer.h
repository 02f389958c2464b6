// Writes a Cars196 cars_annos.mat (MATLAB v5, zlib-compressed, through libmatio, the library the reader uses), as the
// official file is made: annotations, a 1 x N struct array (relative_im_path char; bbox_* uint8, or uint16 where a
// value exceeds 255; class uint16; test uint8), and class_names, a 1 x C cell array of char arrays (UTF-16 code units,
// as MATLAB stores them; ASCII text). For the demo
// generator and the reader's tests, which can also ask for the defects a damaged copy has (CarsMatDefects).
#pragma once
#include <string>
#include <vector>

namespace sgml {

struct CarsAnnotation {
  std::string relative_im_path;  // "car_ims/000001.jpg"
  int x1 = 1, y1 = 1, x2 = 1, y2 = 1;  // 1-based inclusive pixels
  int class_id = 1;                    // 1..C
  int test = 0;                        // the classification split (not used for metric learning)
};

struct CarsMatDefects {
  std::string omit_field;          // this field of annotations is left out
  std::string text_field;          // this field is written as a char array ("oops") instead of its number or path
  bool omit_class_names = false;   // no class_names variable
  bool names_as_matrix = false;    // class_names as a numeric matrix instead of a cell array
  bool uncompressed = false;       // not a defect: variables without zlib (MATLAB's save -v6), the fuzz seed whose
                                   // bytes a mutation changes directly
};

void write_cars_annos_mat(const std::string& path, const std::vector<CarsAnnotation>& annotations,
                          const std::vector<std::string>& class_names, const CarsMatDefects& defects = {});

}  // namespace sgml
