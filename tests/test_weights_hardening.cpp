// Weights files from anywhere: every crafted bad safetensors file (sizes that overflow, offsets that overlap, leave
// holes or trailing bytes, duplicate keys, a directory, NaN values) is a clear sgml::Error naming the file and the
// entry, never a crash, a wrap-around or a silent load; and huge shapes never allocate. Run under ASan/UBSan, these
// are the regression tests of the out-of-bounds write the F16 widening loop did on a shape of 2^62 x 2.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/check.h"
#include "engine/npy.h"
#include "engine/safetensors.h"
#include "models/sgml_model.h"
#include "tests/support/test_support.h"
#include "training/checkpoint.h"

using namespace sgml;

namespace {

void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// A safetensors file written byte by byte: the 8-byte little-endian header length, `header`, then `data`.
std::string craft(const std::string& dir, const std::string& name, const std::string& header, const std::string& data) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = char((uint64_t(header.size()) >> (8 * i)) & 0xff);
  const std::string path = dir + "/" + name;
  write_all(path, bytes + header + data);
  return path;
}

// The message of the sgml::Error that `f` throws ("" and a failure when it throws none or another type).
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not an sgml::Error: " << e.what();
    return "";
  }
  ADD_FAILURE() << "no error";
  return "";
}

void expect_contains(const std::string& text, const std::vector<std::string>& parts) {
  for (const auto& p : parts) EXPECT_NE(text.find(p), std::string::npos) << text << "\nlacks: " << p;
}

void expect_load_error(const std::string& path, const std::vector<std::string>& parts) {
  const std::string e = error_of([&] { load_safetensors(path); });
  expect_contains(e, parts);
  expect_contains(e, {std::filesystem::path(path).filename().string()});
}

class WeightsHardening : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::scratch_dir("hardening"); }
  std::string dir_;
};

TEST_F(WeightsHardening, HugeF16ShapeOverflowsTheElementCount) {
  // 2^62 x 2 elements: the product wraps a signed 64-bit count; before the fix the size check wrapped to 0 bytes and
  // the widening loop wrote out of bounds.
  const std::string p = craft(dir_, "huge_f16.safetensors",
                              R"({"a":{"dtype":"F16","shape":[4611686018427387904,2],"data_offsets":[0,0]}})", "");
  expect_load_error(p, {"entry 'a'", "overflows"});
  const std::string q = craft(dir_, "huge_bf16.safetensors",
                              R"({"w":{"dtype":"BF16","shape":[18446744073709551615],"data_offsets":[0,2]}})", "xx");
  expect_load_error(q, {"entry 'w'", "bad shape"});
}

TEST_F(WeightsHardening, HugeF32ShapeIsNotBackedBy64Bytes) {
  // 2^62 floats need 2^64 bytes: the byte count wraps to 0 (mod 2^64); before the fix this "loaded", as a tensor
  // of 2^62 elements backed by a 64-byte allocation.
  expect_load_error(craft(dir_, "huge_f32_empty.safetensors",
                          R"({"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}})", ""),
                    {"entry 'a'", "bytes of data"});
  const std::string data(64, '\0');
  expect_load_error(craft(dir_, "huge_f32.safetensors",
                          R"({"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,64]}})", data),
                    {"entry 'a'", "bytes of data"});
  expect_load_error(craft(dir_, "huge_i64.safetensors",
                          R"({"b":{"dtype":"I64","shape":[2305843009213693952,1],"data_offsets":[0,0]}})", ""),
                    {"entry 'b'", "bytes of data"});
}

TEST_F(WeightsHardening, OverlappingOffsets) {
  expect_load_error(craft(dir_, "overlap.safetensors",
                          R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                          R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", std::string(12, '\0')),
                    {"entry 'b'", "overlaps entry 'a'"});
}

TEST_F(WeightsHardening, HoleBetweenTensors) {
  expect_load_error(craft(dir_, "hole.safetensors",
                          R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                          R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})", std::string(12, '\0')),
                    {"bytes 4 to 8", "belong to no tensor", "entry 'b'"});
  // A hole at the start of the data section.
  expect_load_error(craft(dir_, "hole_start.safetensors",
                          R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", std::string(8, '\0')),
                    {"bytes 0 to 4", "entry 'a'"});
}

TEST_F(WeightsHardening, TrailingBytes) {
  expect_load_error(craft(dir_, "trailing.safetensors", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                          std::string(9, '\0')),
                    {"5 trailing bytes"});
}

TEST_F(WeightsHardening, DuplicateKeys) {
  // nlohmann's parser keeps one of two equal keys without a word; the file is ambiguous, so it is refused.
  const std::string entry = R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  expect_load_error(craft(dir_, "dup.safetensors", "{\"a\":" + entry + ",\"a\":" + entry + "}", std::string(4, '\0')),
                    {"entry 'a' occurs twice"});
  expect_load_error(
      craft(dir_, "dup_field.safetensors", R"({"a":{"dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4]}})",
            std::string(4, '\0')),
      {"entry 'a'", "field 'dtype' twice"});
  expect_load_error(craft(dir_, "dup_meta.safetensors",
                          R"({"__metadata__":{"k":"1","k":"2"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                          std::string(4, '\0')),
                    {"entry '__metadata__'", "field 'k' twice"});
}

TEST_F(WeightsHardening, OffsetsOutOfOrderOrNotUnsigned) {
  expect_load_error(craft(dir_, "reversed.safetensors", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})",
                          std::string(4, '\0')),
                    {"entry 'a'", "out of order"});
  expect_load_error(craft(dir_, "negative.safetensors", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})",
                          std::string(4, '\0')),
                    {"entry 'a'", "bad data_offsets"});
  expect_load_error(craft(dir_, "fraction.safetensors", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4.0]}})",
                          std::string(4, '\0')),
                    {"entry 'a'", "bad data_offsets"});
  expect_load_error(craft(dir_, "three.safetensors", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}})",
                          std::string(4, '\0')),
                    {"entry 'a'", "bad data_offsets"});
  expect_load_error(craft(dir_, "neg_shape.safetensors", R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})",
                          std::string(4, '\0')),
                    {"entry 'a'", "bad shape"});
}

TEST_F(WeightsHardening, EntryPastTheEndIsTruncation) {
  expect_load_error(craft(dir_, "short.safetensors", R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
                          std::string(10, '\0')),
                    {"is truncated", "entry 'a'"});
}

TEST_F(WeightsHardening, HeaderAndMetadataShapes) {
  expect_load_error(craft(dir_, "array.safetensors", "[1,2]", ""), {"not a JSON object"});
  expect_load_error(craft(dir_, "meta_num.safetensors",
                          R"({"__metadata__":{"format":1},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                          std::string(4, '\0')),
                    {"__metadata__ field 'format'", "must be a string"});
  expect_load_error(craft(dir_, "meta_list.safetensors", R"({"__metadata__":[1]})", ""), {"__metadata__"});
  expect_load_error(
      craft(dir_, "no_dtype.safetensors", R"({"a":{"shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0')),
      {"entry 'a'", "lacks the field 'dtype'"});
  expect_load_error(craft(dir_, "u8.safetensors", R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", "x"),
                    {"entry 'a'", "dtype U8"});
  expect_load_error(craft(dir_, "not_utf8.safetensors", "{\"\xff\":1}", ""), {"not valid JSON"});
  // A dtype nested 100,000 arrays deep: once a stack overflow in printing it for the error message.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  expect_load_error(craft(dir_, "deep.safetensors",
                          R"({"a":{"dtype":)" + deep + R"(,"shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0')),
                    {"the safetensors header nests 100002 levels", "at most 32 are read"});
  // Shallow nesting where a number belongs is still the entry's own error.
  expect_load_error(craft(dir_, "nested_shape.safetensors",
                          R"({"a":{"dtype":"F32","shape":[[[1]]],"data_offsets":[0,4]}})", std::string(4, '\0')),
                    {"entry 'a'", "bad shape [[[1]]]"});
}

TEST_F(WeightsHardening, DirectoryAndMissingPath) {
  // Opening a directory succeeds with an ifstream; the read then fails and was used as data before the fix.
  const std::string d = dir_ + "/a_directory.safetensors";
  std::filesystem::create_directories(d);
  expect_load_error(d, {"is a directory"});
  expect_load_error(dir_ + "/absent.safetensors", {"does not exist"});
  expect_contains(error_of([&] { load_npy(d); }), {"a_directory.safetensors", "is a directory"});
}

TEST_F(WeightsHardening, ValidLayoutsStillLoad) {
  // Entries need not be listed in data order, and empty tensors take no bytes: both are valid safetensors.
  std::string data(12, '\0');
  const float two = 2.0f;
  const int64_t seven = 7;
  std::memcpy(&data[0], &seven, 8);
  std::memcpy(&data[8], &two, 4);
  const TensorMap t = load_safetensors(craft(
      dir_, "order.safetensors",
      R"({"z":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},)"
      R"("e":{"dtype":"F32","shape":[0,3],"data_offsets":[12,12]}})",
      data));
  EXPECT_EQ(t.at("a").to_vector(), std::vector<float>{2.0f});
  EXPECT_EQ(t.at("z").data_i64()[0], 7);
  EXPECT_EQ(t.at("e").shape(), (Shape{0, 3}));
}

TEST_F(WeightsHardening, NonFiniteWeightsAreRefusedNamingTheTensor) {
  SgmlModel model({"resnet18", 3});
  TensorMap state = model.store().state_dict();
  std::vector<float> w = state.at("layer2.0.conv1.weight").to_vector();
  w[3] = NAN;
  w[10] = INFINITY;
  w[11] = -INFINITY;
  state["layer2.0.conv1.weight"] = Tensor::from_vector(w, state.at("layer2.0.conv1.weight").shape());
  const std::string path = dir_ + "/nan_weights.safetensors";
  save_safetensors(path, state);
  SgmlModel other({"resnet18", 3});
  expect_contains(error_of([&] { other.load_weights(path, false); }),
                  {"nan_weights.safetensors", "'layer2.0.conv1.weight' (3 of " + std::to_string(w.size()) + " values)",
                   "non-finite"});
  // The same file through the program (embed --weights), which must not get as far as the (absent) image.
  std::string out;
  EXPECT_NE(test::run_command(std::string(SGML_BINARY_DIR) + "/sgml embed --weights " + path + " --out " + dir_ +
                                  "/f.npy --device cpu --image-size 64 " + dir_ + "/absent.jpg", &out), 0);
  expect_contains(out, {"nan_weights.safetensors", "layer2.0.conv1.weight", "non-finite"});
  EXPECT_EQ(out.find("unexpected error"), std::string::npos) << out;
  EXPECT_EQ(out.find("internal error"), std::string::npos) << out;
}

TEST_F(WeightsHardening, NonFiniteOptimiserStateIsRefused) {
  TensorMap model{{"w", Tensor::full({4}, 1.0f)}};
  TensorMap optimizer{{"adam.m", Tensor::zeros({4})}, {"adam.v", Tensor::from_vector({0, NAN, 0, NAN}, {4})}};
  const std::string path = dir_ + "/nan_adam.safetensors";
  save_checkpoint(path, model, optimizer, {{"model", "resnet18"}}, TrainProgress{});
  expect_contains(error_of([&] { load_checkpoint(path); }),
                  {"nan_adam.safetensors", "'optimizer.adam.v' (2 of 4 values)"});
}

TEST_F(WeightsHardening, CheckpointMetadataOfTheWrongTypeNamesTheField) {
  const std::string path = dir_ + "/bad_progress.safetensors";
  save_safetensors(path, {{"w", Tensor::zeros({1})}},
                   {{"sgml_checkpoint", "1"}, {"config", "{}"}, {"progress", R"({"step":"three"})"}});
  expect_contains(error_of([&] { load_checkpoint(path); }), {"bad_progress.safetensors", "'step'"});
  save_safetensors(path, {{"w", Tensor::zeros({1})}}, {{"sgml_checkpoint", "1"}, {"config", "[1"}, {"progress", "{}"}});
  expect_contains(error_of([&] { load_checkpoint(path); }), {"bad_progress.safetensors", "'config'", "not valid JSON"});
  // Nested 100,000 deep: refused before anything prints it (that overflowed the stack).
  const std::string deep = R"({"lr":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  save_safetensors(path, {{"w", Tensor::zeros({1})}}, {{"sgml_checkpoint", "1"}, {"config", deep}, {"progress", "{}"}});
  expect_contains(error_of([&] { load_checkpoint(path); }),
                  {"bad_progress.safetensors", "metadata field 'config' nests 100001 levels", "at most 32 are read"});
}

TEST_F(WeightsHardening, HugeShapesAreErrorsNotBadAlloc) {
  // Overflowing element counts and allocations beyond the machine are sgml::Errors naming the size; never
  // std::bad_alloc, and never a signed overflow (UBSan).
  expect_contains(error_of([] { shape_numel({int64_t(1) << 62, 4}); }), {"more than 2^63 elements"});
  expect_contains(error_of([] { Tensor::empty({int64_t(1) << 61, 2}); }), {"more than 2^64 bytes"});
  expect_contains(error_of([] { Tensor::empty({int64_t(1) << 40, int64_t(1) << 10}); }),
                  {"host allocation of 4503599627370496 bytes", "exceeds this machine's memory"});
  expect_contains(error_of([] { Tensor::empty({2, -3}); }), {"negative dimension"});
}

TEST_F(WeightsHardening, NpyWithAHugeOrLyingShape) {
  auto npy = [&](const std::string& name, const std::string& shape, size_t data_bytes) {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
    header.append(63 - (10 + header.size()) % 64, ' ');
    header.push_back('\n');
    std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
    bytes.push_back(char(header.size() & 0xff));
    bytes.push_back(char(header.size() >> 8));
    write_all(dir_ + "/" + name, bytes + header + std::string(data_bytes, '\0'));
    return dir_ + "/" + name;
  };
  EXPECT_EQ(load_npy(npy("ok.npy", "(2, 3)", 24)).shape(), (Shape{2, 3}));
  expect_contains(error_of([&] { load_npy(npy("huge.npy", "(4611686018427387904, 4)", 16)); }),
                  {"huge.npy", "overflows"});
  expect_contains(error_of([&] { load_npy(npy("big.npy", "(1099511627776,)", 16)); }), {"big.npy", "16 bytes of data"});
  expect_contains(error_of([&] { load_npy(npy("long.npy", "(99999999999999999999999,)", 16)); }),
                  {"long.npy", "too large"});
  expect_contains(error_of([&] { load_npy(npy("short.npy", "(2, 3)", 20)); }), {"short.npy", "20 bytes of data"});
  // Not a tuple as numpy writes it: refused, not read as some other shape.
  expect_contains(error_of([&] { load_npy(npy("spaces.npy", "(2 3)", 24)); }), {"spaces.npy", "expected ')'"});
  expect_contains(error_of([&] { load_npy(npy("no_comma.npy", "(6)", 24)); }), {"no_comma.npy", "'(N,)'"});
  expect_contains(error_of([&] { load_npy(npy("negative.npy", "(-2, 3)", 24)); }), {"negative.npy", "a dimension"});
  // A shape of 20,000 dimensions (a stack overflow in the std::regex that once read it) is refused at numpy's limit.
  std::string many = "(";
  for (int i = 0; i < 20000; ++i) many += "1, ";
  expect_contains(error_of([&] { load_npy(npy("many_dims.npy", many + ")", 4)); }),
                  {"many_dims.npy", "more than 64 dimensions"});
}

// A header that is not numpy's dict (a key twice or missing, another version, text after it) is refused.
TEST_F(WeightsHardening, NpyHeaderIsReadStrictly) {
  auto npy = [&](const std::string& name, const std::string& version, const std::string& header_text) {
    std::string header = header_text;
    header.append(63 - (10 + header.size()) % 64, ' ');
    header.push_back('\n');
    std::string bytes = "\x93NUMPY" + version;
    bytes.push_back(char(header.size() & 0xff));
    bytes.push_back(char(header.size() >> 8));
    write_all(dir_ + "/" + name, bytes + header + std::string(8, '\0'));
    return dir_ + "/" + name;
  };
  const std::string v1("\x01\x00", 2);
  EXPECT_EQ(load_npy(npy("ok.npy", v1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }")).shape(),
            (Shape{2}));
  expect_contains(error_of([&] {
                    load_npy(npy("v4.npy", std::string("\x04\x00", 2),
                                 "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"));
                  }),
                  {"v4.npy", "version 4.0"});
  expect_contains(
      error_of([&] {
        load_npy(npy("twice.npy", v1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"));
      }),
      {"twice.npy", "'descr' is unexpected or repeated"});
  expect_contains(
      error_of([&] {
        load_npy(npy("other_key.npy", v1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}"));
      }),
      {"other_key.npy", "'x' is unexpected"});
  expect_contains(error_of([&] { load_npy(npy("no_shape.npy", v1, "{'descr': '<f4', 'fortran_order': False}")); }),
                  {"no_shape.npy", "lacks one of"});
  expect_contains(
      error_of([&] { load_npy(npy("after.npy", v1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x")); }),
      {"after.npy", "after the closing '}'"});
  expect_contains(
      error_of([&] { load_npy(npy("maybe.npy", v1, "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,)}")); }),
      {"maybe.npy", "True or False"});
  expect_contains(error_of([&] { load_npy(npy("open.npy", v1, "{'descr': '<f4, 'fortran_order': False}")); }),
                  {"open.npy", "expected '}' at character 17"});
}

// Files numpy itself writes (tests/reference/npy_files.py): float32 in C order is read in every format version and
// shape, with its values; another byte order, dtype or memory order, or a structured dtype, is refused by name.
TEST_F(WeightsHardening, NpyFilesWrittenByNumpy) {
  SGML_SKIP_WITHOUT_MODULE("numpy", "NumPy");
  test::run_reference("npy_files.py", {dir_});
  const std::vector<std::pair<std::string, Shape>> readable = {
      {"f4_v1_2x3.npy", {2, 3}}, {"f4_v2_4.npy", {4}}, {"f4_v3_2x1x2.npy", {2, 1, 2}}, {"f4_scalar.npy", {}},
      {"f4_empty_0x3.npy", {0, 3}}};
  for (const auto& [name, shape] : readable) {
    SCOPED_TRACE(name);
    const Tensor t = load_npy(dir_ + "/" + name);
    EXPECT_EQ(t.shape(), shape);
    const std::vector<float> v = t.to_vector();
    for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(v[i], 0.5f * float(i));
  }
  expect_contains(error_of([&] { load_npy(dir_ + "/f4_big_endian.npy"); }), {"f4_big_endian.npy", "descr '>f4'"});
  expect_contains(error_of([&] { load_npy(dir_ + "/f8.npy"); }), {"f8.npy", "descr '<f8'"});
  expect_contains(error_of([&] { load_npy(dir_ + "/f4_fortran.npy"); }), {"f4_fortran.npy", "fortran_order True"});
  expect_contains(error_of([&] { load_npy(dir_ + "/structured.npy"); }), {"structured.npy", "structured dtype"});
}

}  // namespace
