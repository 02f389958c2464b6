#include "data/cars_annos_writer.h"

#include <matio.h>

#include <cstdint>
#include <vector>

#include "engine/check.h"

namespace sgml {

namespace {

// A char array of UTF-16 code units, as MATLAB writes them (ASCII text: one unit per byte). Not 8-bit chars:
// libmatio 1.5.23 writes compressed cells of those that it cannot read back (scipy.io.loadmat can).
matvar_t* text(const std::string& s) {
  std::vector<uint16_t> units(s.begin(), s.end());
  size_t dims[2] = {1, s.size()};
  return Mat_VarCreate(nullptr, MAT_C_CHAR, MAT_T_UINT16, 2, dims, units.data(), 0);  // copied
}

template <class T>
matvar_t* number(T value, matio_classes c, matio_types t) {
  size_t dims[2] = {1, 1};
  return Mat_VarCreate(nullptr, c, t, 2, dims, &value, 0);  // copied
}

}  // namespace

void write_cars_annos_mat(const std::string& path, const std::vector<CarsAnnotation>& annotations,
                          const std::vector<std::string>& class_names, const CarsMatDefects& defects) {
  mat_t* mat = Mat_CreateVer(path.c_str(), nullptr, MAT_FT_MAT5);
  if (!mat) SGML_FAIL("cannot create the MATLAB file '", path, "'");
  bool ok = true;
  const matio_compression compression = defects.uncompressed ? MAT_COMPRESSION_NONE : MAT_COMPRESSION_ZLIB;
  std::vector<const char*> fields;
  for (const char* f : {"relative_im_path", "bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "test"})
    if (defects.omit_field != f) fields.push_back(f);
  size_t dims[2] = {1, annotations.size()};
  matvar_t* s = Mat_VarCreateStruct("annotations", 2, dims, fields.data(), unsigned(fields.size()));
  for (size_t i = 0; i < annotations.size(); ++i) {
    const CarsAnnotation& a = annotations[i];
    auto set = [&](const char* field, matvar_t* value) {
      if (defects.omit_field == field) {
        Mat_VarFree(value);
        return;
      }
      if (defects.text_field == field) {
        Mat_VarFree(value);
        value = text("oops");
      }
      Mat_VarSetStructFieldByName(s, field, i, value);
    };
    set("relative_im_path", text(a.relative_im_path));
    // The official file's types: uint8 where the values fit, uint16 otherwise.
    auto coordinate = [](int v) {
      return v < 256 ? number(uint8_t(v), MAT_C_UINT8, MAT_T_UINT8) : number(uint16_t(v), MAT_C_UINT16, MAT_T_UINT16);
    };
    set("bbox_x1", coordinate(a.x1));
    set("bbox_y1", coordinate(a.y1));
    set("bbox_x2", coordinate(a.x2));
    set("bbox_y2", coordinate(a.y2));
    set("class", number(uint16_t(a.class_id), MAT_C_UINT16, MAT_T_UINT16));
    set("test", number(uint8_t(a.test), MAT_C_UINT8, MAT_T_UINT8));
  }
  ok = ok && Mat_VarWrite(mat, s, compression) == 0;
  Mat_VarFree(s);
  if (!defects.omit_class_names) {
    size_t names_dims[2] = {1, class_names.size()};
    matvar_t* names;
    if (defects.names_as_matrix) {
      std::vector<double> zeros(class_names.size(), 0.0);
      names = Mat_VarCreate("class_names", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, names_dims, zeros.data(), 0);
    } else {
      names = Mat_VarCreate("class_names", MAT_C_CELL, MAT_T_CELL, 2, names_dims, nullptr, 0);
      for (size_t c = 0; c < class_names.size(); ++c) Mat_VarSetCell(names, int(c), text(class_names[c]));
    }
    ok = ok && Mat_VarWrite(mat, names, compression) == 0;
    Mat_VarFree(names);
  }
  Mat_Close(mat);
  if (!ok) SGML_FAIL("cannot write the MATLAB file '", path, "'");
}

}  // namespace sgml
