#include "engine/npy.h"

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <cctype>
#include <cstring>
#include <utility>

#include "engine/check.h"
#include "engine/safetensors.h"

namespace sgml {

void save_npy(const std::string& path, const Tensor& tensor) {
  SGML_CHECK(tensor.dtype() == DType::F32, "save_npy writes float32 tensors, got ", tensor.str());
  std::string shape = "(";
  for (int64_t d : tensor.shape()) shape += std::to_string(d) + ",";
  if (tensor.ndim() > 1) shape.pop_back();  // "(3,)" for 1-D, "(3,4)" otherwise
  shape += ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  // Magic, version, header length, then the header padded with spaces and ended by '\n' to a multiple of 64.
  const size_t prefix = 10;
  header.append(63 - (prefix + header.size()) % 64, ' ');
  header.push_back('\n');
  std::string bytes = "\x93NUMPY";
  bytes.push_back('\x01');
  bytes.push_back('\x00');
  bytes.push_back(char(header.size() & 0xff));
  bytes.push_back(char(header.size() >> 8));
  bytes += header;
  const std::vector<float> values = tensor.to_vector();
  bytes.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
  write_file_atomically(path, bytes);
}

namespace {

// The header of a .npy file: a Python dict literal, as numpy writes it, e.g.
// "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }". Read by hand, strictly: the three keys, each once,
// a string, a boolean and a tuple of non-negative integers ("(3,)" for one dimension, "()" for a scalar).
struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

class NpyHeaderParser {
 public:
  NpyHeaderParser(const std::string& text, const std::string& path) : text_(text), path_(path) {}

  NpyHeader parse() {
    NpyHeader h;
    bool has_descr = false, has_order = false, has_shape = false;
    expect('{');
    while (!accept('}')) {
      const std::string key = string_literal();
      expect(':');
      if (key == "descr" && !has_descr) {
        if (accept('[')) fail("'descr' is a structured dtype (a list of fields); only '<f4' is supported");
        h.descr = string_literal();
        has_descr = true;
      } else if (key == "fortran_order" && !has_order) {
        h.fortran_order = boolean();
        has_order = true;
      } else if (key == "shape" && !has_shape) {
        h.shape = tuple_of_dimensions();
        has_shape = true;
      } else {
        fail(str_cat("the key '", key, "' is unexpected or repeated"));
      }
      if (!accept(',')) {
        expect('}');
        break;
      }
    }
    skip_spaces();
    if (pos_ != text_.size()) fail("text after the closing '}'");
    if (!has_descr || !has_order || !has_shape) fail("it lacks one of 'descr', 'fortran_order' and 'shape'");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    std::string shown = text_.substr(0, text_.find_last_not_of(" \n") + 1);  // without the padding
    if (shown.size() > 160) shown = shown.substr(0, 160) + "...";
    SGML_FAIL("'", path_, "': the .npy header is not numpy's dict of descr, fortran_order and shape: ", what,
              " at character ", pos_, " (header ", shown, ")");
  }
  void skip_spaces() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n')) ++pos_;
  }
  bool accept(char c) {
    skip_spaces();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!accept(c)) fail(str_cat("expected '", std::string(1, c), "'"));
  }
  std::string string_literal() {
    skip_spaces();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) fail("expected a quoted string");
    const char quote = text_[pos_++];
    const size_t end = text_.find(quote, pos_);
    if (end == std::string::npos) fail("an unterminated string");
    std::string s = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return s;
  }
  bool boolean() {
    skip_spaces();
    for (const auto& [word, value] : {std::pair<const char*, bool>{"True", true}, {"False", false}})
      if (text_.compare(pos_, std::strlen(word), word) == 0) {
        pos_ += std::strlen(word);
        return value;
      }
    fail("expected True or False");
  }
  // "(2, 3)", "(3,)", "()": a one-element tuple needs its comma ("(3)" is the number 3 in Python).
  Shape tuple_of_dimensions() {
    Shape shape;
    expect('(');
    bool comma_after_last = false;
    while (!accept(')')) {
      skip_spaces();
      const size_t begin = pos_;
      while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
      if (pos_ == begin) fail("expected a dimension (a non-negative integer)");
      const std::string digits = text_.substr(begin, pos_ - begin);
      errno = 0;
      const long long v = std::strtoll(digits.c_str(), nullptr, 10);
      if (errno == ERANGE) SGML_FAIL("'", path_, "': dimension ", digits, " of the shape is too large");
      shape.push_back(v);
      if (shape.size() > kMaxDims) fail(str_cat("more than ", kMaxDims, " dimensions"));
      comma_after_last = accept(',');
      if (!comma_after_last) {
        expect(')');
        break;
      }
    }
    if (shape.size() == 1 && !comma_after_last) fail("a one-dimensional shape is written '(N,)'");
    return shape;
  }

  static constexpr size_t kMaxDims = 64;  // numpy's own limit (NPY_MAXDIMS of numpy 2)
  const std::string& text_;
  const std::string& path_;
  size_t pos_ = 0;
};

}  // namespace

Tensor load_npy(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) SGML_FAIL("cannot read '", path, "': it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) SGML_FAIL("cannot open '", path, "'");
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  if (ec) SGML_FAIL("cannot read '", path, "': ", ec.message());
  char magic[12];
  in.read(magic, 10);
  if (!in || std::string(magic, 6) != "\x93NUMPY") SGML_FAIL("'", path, "' is not a .npy file");
  const int major = uint8_t(magic[6]), minor = uint8_t(magic[7]);
  if (major < 1 || major > 3 || minor != 0)
    SGML_FAIL("'", path, "': .npy format version ", major, ".", minor, " is not one of 1.0, 2.0 and 3.0");
  uint64_t header_len = uint8_t(magic[8]) | (uint64_t(uint8_t(magic[9])) << 8), prefix = 10;
  if (major != 1) {  // versions 2 and 3: a 4-byte header length
    in.read(magic + 10, 2);
    if (!in) SGML_FAIL("'", path, "' is truncated in its .npy header");
    header_len |= (uint64_t(uint8_t(magic[10])) << 16) | (uint64_t(uint8_t(magic[11])) << 24);
    prefix = 12;
  }
  if (header_len > file_size - prefix)
    SGML_FAIL("'", path, "' is truncated: header length ", header_len, " in a file of ", file_size, " bytes");
  std::string text(header_len, '\0');
  in.read(text.data(), static_cast<std::streamsize>(header_len));
  if (!in) SGML_FAIL("'", path, "' is truncated in its .npy header");
  const NpyHeader header = NpyHeaderParser(text, path).parse();
  if (header.descr != "<f4" || header.fortran_order)
    SGML_FAIL("'", path,
              "': only little-endian float32 C-order arrays are supported (descr '<f4', fortran_order "
              "False); this one has descr '",
              header.descr, "', fortran_order ", header.fortran_order ? "True" : "False");
  const Shape& shape = header.shape;
  // Sized against the file before allocating: a crafted shape cannot ask for more memory than the file holds.
  const uint64_t data_size = file_size - prefix - header_len;
  uint64_t numel = 1, bytes = 0;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(numel, uint64_t(d), &numel))
      SGML_FAIL("'", path, "': shape ", shape_str(shape), " overflows");
  const bool overflow = __builtin_mul_overflow(numel, uint64_t(4), &bytes);
  if (overflow || bytes != data_size)
    SGML_FAIL("'", path, "' holds ", data_size, " bytes of data, shape ", shape_str(shape), " needs ",
              overflow ? std::string("more than 2^64") : std::to_string(bytes));
  Tensor t = Tensor::empty(shape);
  in.read(reinterpret_cast<char*>(t.raw_data()), static_cast<std::streamsize>(t.nbytes()));
  if (!in) SGML_FAIL("'", path, "' is truncated: expected ", t.nbytes(), " bytes of data for shape ", shape_str(shape));
  return t;
}

}  // namespace sgml
