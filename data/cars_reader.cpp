#include "data/cars_reader.h"

#include <matio.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <unordered_set>

#include "data/text_lines.h"
#include "data/unique_image_paths.h"
#include "engine/check.h"

namespace sgml {

namespace fs = std::filesystem;

namespace {

const char* kLayoutHint = "expected the Cars196 layout: cars_annos.mat next to the car_ims/ folder";
const char* kNumberFields[] = {"bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "test"};

// matio reports problems through a log function (stderr by default): keep its last message for our error instead.
thread_local std::string g_matio_message;
void keep_matio_message(int, char* message) { g_matio_message = message ? message : ""; }
void quiet_matio() {
  static std::once_flag once;
  std::call_once(once, [] { Mat_LogInitFunc("sgml", keep_matio_message); });
}

struct MatFile {
  mat_t* mat = nullptr;
  ~MatFile() {
    if (mat) Mat_Close(mat);
  }
};
struct VarFree {
  void operator()(matvar_t* v) const { Mat_VarFree(v); }
};
using Var = std::unique_ptr<matvar_t, VarFree>;

// The product of the dimensions; SIZE_MAX when it overflows (no data holds that many, so the checks below refuse it).
size_t element_count(const matvar_t* v) {
  size_t n = 1;
  for (int i = 0; i < v->rank; ++i)
    if (__builtin_mul_overflow(n, v->dims[i], &n)) return SIZE_MAX;
  return n;
}

std::string dims_text(const matvar_t* v) {
  std::string s;
  for (int i = 0; i < v->rank; ++i) s += (i ? " x " : "") + std::to_string(v->dims[i]);
  return s;
}

const char* class_text(matio_classes c) {
  switch (c) {
    case MAT_C_CELL: return "a cell array";
    case MAT_C_STRUCT: return "a struct";
    case MAT_C_CHAR: return "a char array";
    case MAT_C_EMPTY: return "empty";
    case MAT_C_SPARSE: return "a sparse matrix";
    case MAT_C_OBJECT: return "an object";
    default: return "a numeric matrix";
  }
}

// Bytes per element of a char array's data: UTF-16 code units (MATLAB) or bytes (other writers).
size_t char_unit(const matvar_t* v) {
  return v->data_type == MAT_T_UINT16 || v->data_type == MAT_T_UTF16 || v->data_size == 2 ? 2 : 1;
}

// Whether a char or numeric variable's data holds every element its dimensions claim: libmatio takes the dimensions
// from the file and the data from its own element, and a damaged file can say 1 x 25 and carry 20 characters.
bool holds_its_elements(const matvar_t* v) {
  const size_t unit = v->class_type == MAT_C_CHAR ? char_unit(v) : Mat_SizeOfClass(v->class_type);
  return unit > 0 && (element_count(v) == 0 || (v->data && v->nbytes / unit >= element_count(v)));
}

// Whether a cell array (per_element 1) or a struct array (per_element: its number of fields) holds a member
// variable for every element its dimensions claim; libmatio's accessors index its array without that check.
bool holds_its_members(const matvar_t* v, size_t per_element) {
  const size_t n = element_count(v);
  if (n == 0 || per_element == 0) return true;
  return v->data && v->nbytes / sizeof(matvar_t*) / per_element >= n;
}

// A char array as UTF-8 (MATLAB writes UTF-16 code units, other writers bytes or UTF-8); false for anything else.
bool char_text(const matvar_t* v, std::string* out) {
  if (!v || v->class_type != MAT_C_CHAR || v->rank != 2 || v->dims[0] > 1) return false;
  const size_t n = element_count(v);
  out->clear();
  if (n == 0) return true;
  if (!holds_its_elements(v)) return false;
  if (char_unit(v) == 2) {
    const auto* units = static_cast<const uint16_t*>(v->data);
    for (size_t i = 0; i < n; ++i) {
      const unsigned u = units[i];
      if (u < 0x80) {
        *out += char(u);
      } else if (u < 0x800) {
        *out += char(0xC0 | (u >> 6));
        *out += char(0x80 | (u & 0x3F));
      } else {
        *out += char(0xE0 | (u >> 12));
        *out += char(0x80 | ((u >> 6) & 0x3F));
        *out += char(0x80 | (u & 0x3F));
      }
    }
    return true;
  }
  if (v->data_size != 1) return false;
  // UTF-8 data (scipy's savemat writes it) counts characters in its dimensions, not bytes: a name with 'ö' has more
  // bytes than characters, and all of them are the name.
  out->assign(static_cast<const char*>(v->data), v->data_type == MAT_T_UTF8 ? v->nbytes : n);
  return true;
}

// A 1 x 1 numeric matrix of any class; false otherwise.
bool numeric_scalar(const matvar_t* v, double* out) {
  if (!v || !v->data || element_count(v) != 1 || v->isComplex || !holds_its_elements(v)) return false;
  switch (v->class_type) {
    case MAT_C_DOUBLE: *out = *static_cast<const double*>(v->data); break;
    case MAT_C_SINGLE: *out = *static_cast<const float*>(v->data); break;
    case MAT_C_INT8: *out = *static_cast<const int8_t*>(v->data); break;
    case MAT_C_UINT8: *out = *static_cast<const uint8_t*>(v->data); break;
    case MAT_C_INT16: *out = *static_cast<const int16_t*>(v->data); break;
    case MAT_C_UINT16: *out = *static_cast<const uint16_t*>(v->data); break;
    case MAT_C_INT32: *out = *static_cast<const int32_t*>(v->data); break;
    case MAT_C_UINT32: *out = *static_cast<const uint32_t*>(v->data); break;
    case MAT_C_INT64: *out = double(*static_cast<const int64_t*>(v->data)); break;
    case MAT_C_UINT64: *out = double(*static_cast<const uint64_t*>(v->data)); break;
    default: return false;
  }
  return std::isfinite(*out);
}

std::string type_of(const matvar_t* v) {
  if (!v) return "missing";
  const bool data_short = (v->class_type == MAT_C_CHAR || Mat_SizeOfClass(v->class_type) > 0) && !holds_its_elements(v);
  return str_cat(class_text(v->class_type), " of ", dims_text(v),
                 data_short ? str_cat(" whose data holds ", v->data ? v->nbytes : 0, " bytes (damaged?)") : "");
}

Var read_variable(mat_t* mat, const std::string& path, const char* name, matio_classes wanted, const char* expected) {
  Var v(Mat_VarRead(mat, name));
  if (!v)
    SGML_FAIL("'", path, "': no variable '", name, "' (expected ", expected, "; a truncated or different file? ",
              kLayoutHint, ")");
  if (v->class_type != wanted)
    SGML_FAIL("'", path, "': variable '", name, "' is ", type_of(v.get()), ", expected ", expected);
  return v;
}

struct Annotation {
  std::string path;  // DIR joined with relative_im_path
  BoundingBox box;
  int class_id = 0;
};

}  // namespace

Dataset read_cars(const std::string& root, const CarsOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) SGML_FAIL("Cars196 folder '", root, "' does not exist (", kLayoutHint, ")");
  const std::string path = find_dataset_file(root, {"cars_annos.mat"}, kLayoutHint);
  quiet_matio();
  g_matio_message.clear();
  MatFile file;
  file.mat = Mat_Open(path.c_str(), MAT_ACC_RDONLY);
  if (!file.mat)
    SGML_FAIL("'", path, "' is not a MATLAB .mat file libmatio can read",
              g_matio_message.empty() ? std::string() : " (" + g_matio_message + ")");

  // Class names first: they give the number of classes C.
  const Var names = read_variable(file.mat, path, "class_names", MAT_C_CELL, "a 1 x C cell array of strings");
  if (!holds_its_members(names.get(), 1))
    SGML_FAIL("'", path, "': class_names is ", type_of(names.get()), " but holds fewer cells (a damaged file?)");
  std::vector<std::string> class_names(element_count(names.get()));
  if (class_names.size() < 2)
    SGML_FAIL("'", path, "': class_names holds ", class_names.size(), " names, expected at least 2");
  for (size_t c = 0; c < class_names.size(); ++c)
    if (!char_text(Mat_VarGetCell(names.get(), int(c)), &class_names[c]))
      SGML_FAIL("'", path, "': class_names{", c + 1, "} is ", type_of(Mat_VarGetCell(names.get(), int(c))),
                ", expected a string");
  const int num_classes = int(class_names.size());

  const Var annotations = read_variable(file.mat, path, "annotations", MAT_C_STRUCT, "a 1 x N struct array");
  const size_t n = element_count(annotations.get());
  if (n == 0) SGML_FAIL("'", path, "': annotations is empty");
  const unsigned num_fields = Mat_VarGetNumberOfFields(annotations.get());
  char* const* field_names = Mat_VarGetStructFieldnames(annotations.get());
  if (!field_names || !holds_its_members(annotations.get(), num_fields))
    SGML_FAIL("'", path, "': annotations is ", type_of(annotations.get()), " with ", num_fields,
              " fields but holds fewer records or field names (a damaged file?)");
  {
    std::unordered_set<std::string> fields;
    for (unsigned i = 0; i < num_fields; ++i)
      if (field_names[i]) fields.insert(field_names[i]);
    for (const char* wanted : {"relative_im_path", "bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "test"})
      if (!fields.count(wanted))
        SGML_FAIL("'", path, "': the annotations struct has no field '", wanted, "' (expected relative_im_path, "
                  "bbox_x1, bbox_y1, bbox_x2, bbox_y2, class, test)");
  }

  std::vector<Annotation> records(n);
  UniqueImagePaths paths;
  for (size_t i = 0; i < n; ++i) {
    auto field = [&](const char* name) { return Mat_VarGetStructFieldByName(annotations.get(), name, i); };
    std::string relative;
    if (!char_text(field("relative_im_path"), &relative) || relative.empty())
      SGML_FAIL("'", path, "' annotations record ", i + 1, ": relative_im_path is ", type_of(field("relative_im_path")),
                ", expected a non-empty string");
    paths.add(relative, str_cat("'", path, "' annotations record ", i + 1));
    double v[6];
    for (int f = 0; f < 6; ++f)
      if (!numeric_scalar(field(kNumberFields[f]), &v[f]))
        SGML_FAIL("'", path, "' annotations record ", i + 1, ": ", kNumberFields[f], " is ",
                  type_of(field(kNumberFields[f])), ", expected a finite number (a 1 x 1 numeric matrix)");
    if (v[4] != std::floor(v[4]) || v[4] < 1 || v[4] > num_classes)
      SGML_FAIL("'", path, "' annotations record ", i + 1, ": class ", v[4], " is out of range (1 to ", num_classes,
                ", the entries of class_names)");
    if (v[5] != 0 && v[5] != 1) SGML_FAIL("'", path, "' annotations record ", i + 1, ": test ", v[5], " is not 0 or 1");
    if (v[0] < 0 || v[1] < 0 || v[2] < v[0] || v[3] < v[1])
      SGML_FAIL("'", path, "' annotations record ", i + 1, ": the box (", v[0], ", ", v[1], ") - (", v[2], ", ", v[3],
                ") is not x1 <= x2, y1 <= y2 with non-negative corners");
    Annotation& a = records[i];
    a.path = (fs::path(root) / relative).string();
    a.class_id = int(v[4]);
    // MATLAB pixels are 1-based and the corners inclusive: x1 = 1 is the image's first column.
    a.box = {float(std::max(0.0, v[0] - 1)), float(std::max(0.0, v[1] - 1)), float(v[2] - v[0] + 1),
             float(v[3] - v[1] + 1)};
  }
  size_t missing = 0, first_missing = 0;
  for (size_t i = 0; i < n; ++i)
    if (!fs::is_regular_file(records[i].path, ec) && missing++ == 0) first_missing = i;
  if (missing > 0)
    SGML_FAIL("'", path, "' annotations record ", first_missing + 1, ": image '", records[first_missing].path,
              "' is not on disk", missing > 1 ? str_cat(" (", missing, " listed images are missing)") : std::string());

  Dataset d;
  d.kind = "cars";
  d.root = root;
  const int train_classes = num_classes / 2;
  std::vector<int> label(size_t(num_classes) + 1, -1);
  std::vector<bool> used(size_t(num_classes) + 1, false);
  for (const Annotation& a : records) used[size_t(a.class_id)] = true;
  int train_label = 0, test_label = 0;
  for (int c = 1; c <= num_classes; ++c)
    if (used[size_t(c)]) label[size_t(c)] = c <= train_classes ? train_label++ : test_label++;
  for (Annotation& a : records) {
    ImageRecord r;
    r.path = std::move(a.path);
    r.item = std::to_string(a.class_id);
    r.label = label[size_t(a.class_id)];
    if (options.crop) r.box = a.box;
    (a.class_id <= train_classes ? d.train : d.test).push_back(std::move(r));
  }
  if (d.train.empty() || d.test.empty())
    SGML_FAIL("'", path, "': the ", n, " annotations give an empty train or test split (classes 1-", train_classes,
              " train, ", train_classes + 1, "-", num_classes, " test)");
  return d;
}

}  // namespace sgml
