// What each fuzz target does with one input, shared by the libFuzzer targets (fuzz/fuzz_<name>.cpp, built with
// SGML_FUZZ=ON, run by scripts/fuzz.sh) and by the test suite (tests/test_fuzz_regressions.cpp replays the seeds
// and every past crasher in fuzz/corpus/ and fuzz/regressions/ through the same functions, so the plain and the
// sanitized suites keep every fuzz finding fixed even where clang is missing). Header-only for that reason.
//
// The readers under test take paths, so an input is written to files in a scratch folder ($SGML_FUZZ_SCRATCH, else
// /dev/shm, else the temp folder; set_scratch_dir overrides). A reader may reject an input only with sgml::Error
// (a message naming the file). Anything else -- a crash, a sanitizer report, another exception escaping (e.g.
// nlohmann::json's or std::bad_alloc, which the program would show as "unexpected error: <library text>") -- is
// a finding, so every other exception is left to escape: libFuzzer reports it as a crash with its input, and the
// test fails.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

#include "data/batch_plan.h"
#include "data/cars_reader.h"
#include "data/cub_reader.h"
#include "data/image_decode.h"
#include "data/inshop_reader.h"
#include "data/sop_reader.h"
#include "data/text_lines.h"
#include "engine/check.h"
#include "engine/safetensors.h"
#include "tools/commands/train_options.h"
#include "training/checkpoint.h"
#include "training/train_config.h"

namespace sgml::fuzz {

namespace detail {
inline std::string& scratch_override() {
  static std::string dir;
  return dir;
}
}  // namespace detail

// Where inputs are written from now on (created when missing).
inline void set_scratch_dir(const std::string& dir) {
  std::filesystem::create_directories(dir);
  detail::scratch_override() = dir;
}

// The folder inputs are written to: set_scratch_dir's, else one of this process, created on first use.
inline const std::string& scratch_dir() {
  namespace fs = std::filesystem;
  if (!detail::scratch_override().empty()) return detail::scratch_override();
  static const std::string dir = [] {
    std::error_code ec;
    const char* env = std::getenv("SGML_FUZZ_SCRATCH");
    const fs::path base = env && *env                           ? fs::path(env)
                          : fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm")
                                                             : fs::temp_directory_path();
    const fs::path d = base / ("sgml_fuzz_" + std::to_string(::getpid()));
    fs::remove_all(d, ec);
    fs::create_directories(d);
    return d.string();
  }();
  return dir;
}

// Writes `bytes` to `path` (replacing it), creating the parent folders.
inline void write_file(const std::string& path, std::string_view bytes) {
  const std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) SGML_FAIL("fuzz: cannot write '", path, "'");
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  std::fclose(f);
  if (!ok) SGML_FAIL("fuzz: short write to '", path, "' (tmpfs full?)");
}

// One input holding several files: the sections between lines "%%" ("\n%%\n"), each keeping its final newline;
// missing sections are empty.
inline std::vector<std::string_view> split_sections(std::string_view all, size_t count) {
  static constexpr std::string_view kSeparator = "\n%%\n";
  std::vector<std::string_view> out;
  size_t start = 0;
  while (out.size() + 1 < count) {
    const size_t at = all.find(kSeparator, start);
    if (at == std::string_view::npos) break;
    out.push_back(all.substr(start, at - start + 1));
    start = at + kSeparator.size();
  }
  out.push_back(all.substr(start));
  while (out.size() < count) out.emplace_back();
  return out;
}

// Runs `read`; an sgml::Error is the clean rejection of a bad input.
template <class Read>
void expect_clean_errors(Read&& read) {
  try {
    read();
  } catch (const sgml::Error&) {
  }
}

// Writes the sections of `input` as the files `names` under `root` (every file, so none is left from before).
template <size_t N>
void write_tree(const std::string& root, const char* const (&names)[N], std::string_view input) {
  const auto sections = split_sections(input, N);
  for (size_t i = 0; i < N; ++i) write_file(root + "/" + names[i], sections[i]);
}

// ---- the targets: one input each ----

// The safetensors reader (engine/safetensors.h), metadata included. Every element is read back, so that a tensor
// that claims more bytes than it holds shows up under ASan.
inline void read_safetensors_input(std::string_view input) {
  const std::string path = scratch_dir() + "/weights.safetensors";
  write_file(path, input);
  expect_clean_errors([&] {
    Metadata metadata;
    const TensorMap tensors = load_safetensors(path, &metadata);
    for (const auto& [name, t] : tensors) {
      const uint8_t* p = static_cast<const uint8_t*>(t.raw_data());
      volatile uint8_t sum = 0;
      for (size_t i = 0; i < t.nbytes(); ++i) sum = uint8_t(sum + p[i]);
    }
  });
}

// A training checkpoint (training/checkpoint.h): the safetensors file plus the configuration and progress the
// trainer stores as JSON in its metadata.
inline void read_checkpoint_input(std::string_view input) {
  const std::string path = scratch_dir() + "/checkpoint.safetensors";
  write_file(path, input);
  expect_clean_errors([&] { load_checkpoint(path); });
}

// The CUB-200-2011 reader (data/cub_reader.h): the six list files, in the order of kFiles, written as the official
// layout; returns the dataset folder.
inline std::string write_cub_input(std::string_view input) {
  static const char* const kFiles[] = {"images.txt", "image_class_labels.txt", "classes.txt", "bounding_boxes.txt",
                                       "attributes/image_attribute_labels.txt", "attributes/attributes.txt"};
  const std::string root = scratch_dir() + "/CUB_200_2011";
  write_tree(root, kFiles, input);
  return root;
}

inline void read_cub_input(std::string_view input) {
  const std::string root = write_cub_input(input);
  expect_clean_errors([&] { read_cub(root); });
}

// The DeepFashion In-shop reader (data/inshop_reader.h): the three list files, in the order of kFiles.
inline std::string write_inshop_input(std::string_view input) {
  static const char* const kFiles[] = {"Eval/list_eval_partition.txt", "Anno/list_attr_cloth.txt",
                                       "Anno/list_attr_items.txt"};
  const std::string root = scratch_dir() + "/inshop";
  write_tree(root, kFiles, input);
  return root;
}

inline void read_inshop_input(std::string_view input) {
  const std::string root = write_inshop_input(input);
  expect_clean_errors([&] { read_inshop(root); });
}

// Empty files standing for a dataset's images: the SOP and Cars196 readers check that every listed image is on
// disk, so the seeds list these names and reach the rest of the reader (a mutated name is the missing-image error).
template <size_t N>
void write_placeholder_images(const std::string& root, const char* const (&names)[N]) {
  for (const char* name : names) write_file(root + "/" + name, "");
}

// The Stanford Online Products reader (data/sop_reader.h): Ebay_train.txt, then Ebay_test.txt, in a tree that holds
// the images kSopImages (train classes 1-2 of bicycle_final, test classes 3-4 of chair_final, as the seeds list).
inline std::string write_sop_input(std::string_view input) {
  static const char* const kFiles[] = {"Ebay_train.txt", "Ebay_test.txt"};
  static const char* const kSopImages[] = {"bicycle_final/1_0.JPG", "bicycle_final/1_1.JPG", "bicycle_final/2_0.JPG",
                                           "bicycle_final/2_1.JPG", "chair_final/3_0.JPG",   "chair_final/3_1.JPG",
                                           "chair_final/4_0.JPG",   "chair_final/4_1.JPG"};
  const std::string root = scratch_dir() + "/Stanford_Online_Products";
  write_tree(root, kFiles, input);
  write_placeholder_images(root, kSopImages);
  return root;
}

inline void read_sop_input(std::string_view input) {
  const std::string root = write_sop_input(input);
  expect_clean_errors([&] { read_sop(root); });
}

// The Cars196 reader (data/cars_reader.h): the input is cars_annos.mat, read by libmatio from the file, in a tree
// that holds car_ims/000001.jpg to 000008.jpg (the names the seeds list). Read with the boxes kept (--crop-boxes),
// so that every field of a record is used.
inline std::string write_cars_input(std::string_view input) {
  static const char* const kCarsImages[] = {"car_ims/000001.jpg", "car_ims/000002.jpg", "car_ims/000003.jpg",
                                            "car_ims/000004.jpg", "car_ims/000005.jpg", "car_ims/000006.jpg",
                                            "car_ims/000007.jpg", "car_ims/000008.jpg"};
  const std::string root = scratch_dir() + "/cars196";
  write_file(root + "/cars_annos.mat", input);
  write_placeholder_images(root, kCarsImages);
  return root;
}

inline void read_cars_input(std::string_view input) {
  const std::string root = write_cars_input(input);
  CarsOptions crop;
  crop.crop = true;
  expect_clean_errors([&] { read_cars(root, crop); });
}

// The batch-plan reader (data/batch_plan.h, `sgml train --batch-plan`) and the annotation tokeniser under every
// dataset reader (data/text_lines.h). The first byte chooses the number of training images (its value, 0-255) and
// the group (odd: 3, image-wise triplets; even: 1); the rest is the plan file.
inline void read_batch_plan_input(std::string_view input) {
  if (input.empty()) return;
  const int num_images = uint8_t(input[0]), group = (num_images & 1) ? 3 : 1;
  const std::string path = scratch_dir() + "/plan.txt";
  write_file(path, input.substr(1));
  expect_clean_errors([&] { read_batch_plan(path, num_images, group); });
  expect_clean_errors([&] {
    const TextFile file(path);
    for (int n = 1; n <= file.num_lines(); ++n)
      for (std::string_view t : split_tokens(file.line(n))) {
        long long v;
        try_parse_integer(t, &v);
        expect_clean_errors([&] { parse_number(t, path, n, "value"); });
      }
  });
}

// The JSON config reader (`sgml train demo --config FILE`, tools/commands/options.h) and the training
// configuration checked and built from it (tools/commands/train_options.h, the rows of training/config_fields.h).
inline void read_config_input(std::string_view input) {
  const std::string path = scratch_dir() + "/config.json";
  write_file(path, input);
  expect_clean_errors([&] {
    Options options("train", "demo|deepfashion|cub [options]", "fuzzing --config");
    declare_train_options(options);
    std::string a0 = "sgml", a1 = "train", a2 = "demo", a3 = "--config", a4 = path;
    char* argv[] = {a0.data(), a1.data(), a2.data(), a3.data(), a4.data(), nullptr};
    if (!options.parse(5, argv, 2)) return;
    train_config_from_options(options);
  });
}

// Decoding a dataset image from its file (data/image_decode.h), the strict path every dataset image goes through.
// A decoded image must hold exactly its pixels (an inconsistent one would be read out of bounds later).
inline void read_image_input(std::string_view input) {
  const std::string path = scratch_dir() + "/image";
  write_file(path, input);
  RgbImage image;
  expect_clean_errors([&] { image = decode_image_file(path); });
  if (image.width < 0 || image.height < 0 || image.pixels.size() != size_t(image.width) * size_t(image.height) * 3)
    SGML_FAIL("fuzz: '", path, "' decoded to ", image.width, "x", image.height, " with ", image.pixels.size(),
              " bytes");  // thrown outside expect_clean_errors: libFuzzer reports a crash, the test fails
}

struct Target {
  const char* name;  // fuzz/corpus/<name>, fuzz/regressions/<name>, fuzz_<name>
  void (*read)(std::string_view input);
};

inline const std::vector<Target>& all_targets() {
  static const std::vector<Target> targets = {
      {"safetensors", read_safetensors_input}, {"checkpoint", read_checkpoint_input},
      {"cub", read_cub_input},                 {"inshop", read_inshop_input},
      {"sop", read_sop_input},                 {"cars", read_cars_input},
      {"batch_plan", read_batch_plan_input},   {"config", read_config_input},
      {"image", read_image_input}};
  return targets;
}

}  // namespace sgml::fuzz
