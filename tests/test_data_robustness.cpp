// The data path under bad input, through its functions: no exception may leave a worker thread (one used to end
// the process with "terminate called ..."), every bad-image policy covers unreadable paths (a directory, no
// permission, missing) and not only bad bytes, worker threads that cannot be started are an error saying how many,
// an interrupted or damaged decoded-image cache is reported in plain words naming the file and field, and paths
// that are not UTF-8 round-trip through the cache index. The same through the sgml program:
// test_cli_data_robustness.cpp.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "data/dataset.h"
#include "data/image_cache.h"
#include "data/loader.h"
#include "data/path_text.h"
#include "data/training_stream.h"
#include "data/worker_errors.h"
#include "engine/check.h"
#include "models/sgml_model.h"
#include "tests/support/small_inshop.h"
#include "tests/support/test_support.h"
#include "training/feature_extraction.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SGML_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define SGML_TEST_SANITIZED 1
#endif
#endif

using namespace sgml;
namespace fs = std::filesystem;

namespace {

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no sgml::Error";
  return "";
}

}  // namespace

// ---- worker threads hand their errors to the caller ----

TEST(DataRobustness, LibraryExceptionsOfAnImageNameTheFile) {
  const std::string dir = test::scratch_dir("messages");
  fs::create_directories(dir + "/folder.jpg");
  std::string message;
  try {
    throw std::ios_base::failure("basic_filebuf::underflow error reading the file");
  } catch (...) {
    message = current_image_error(dir + "/folder.jpg");
  }
  EXPECT_NE(message.find("'" + dir + "/folder.jpg'"), std::string::npos) << message;
  EXPECT_NE(message.find("is a directory"), std::string::npos) << message;
  try {
    throw 42;  // not even a std::exception
  } catch (...) {
    message = current_image_error(dir + "/gone.jpg");
  }
  EXPECT_NE(message.find("no such file"), std::string::npos) << message;
  EXPECT_EQ(first_error({"", "second", "third"}), "second");
}

TEST(DataRobustness, EvaluationReportsUnreadablePathsInsteadOfAborting) {
  const std::string dir = test::small_inshop("eval_paths");
  Dataset d = test::read_small_inshop(dir);
  test::replace_with_directory(d.gallery[1].path);
  SgmlModelConfig mc;
  mc.arch = "resnet18";
  mc.num_attributes = 29;
  SgmlModel model(mc);
  FeatureExtractionSettings s;
  s.image_size = 32;
  s.batch_size = 3;
  s.workers = 2;
  const std::string message = message_of([&] { extract_features(model, d.gallery, s); });
  EXPECT_NE(message.find(d.gallery[1].path), std::string::npos) << message;
  EXPECT_NE(message.find("--skip-bad-images"), std::string::npos) << message;
  // Skipping covers it: no row (not a zero row), named among the dropped. A huge worker count is capped.
  s.skip_bad_images = true;
  s.workers = 1000000;
  const ExtractedFeatures f = extract_features(model, d.gallery, s);
  EXPECT_EQ(f.dropped, (std::vector<std::string>{d.gallery[1].path}));
  EXPECT_EQ(f.features.dim(0), int64_t(d.gallery.size()) - 1);
  std::vector<int> kept;
  for (int i = 0; i < int(d.gallery.size()); ++i)
    if (i != 1) kept.push_back(i);
  EXPECT_EQ(f.kept, kept);
  // The first bad image by position is the one reported, whatever the thread timing.
  test::replace_with_directory(d.gallery[2].path);
  fs::remove_all(d.gallery[1].path);
  s.skip_bad_images = false;
  s.workers = 3;
  for (int repeat = 0; repeat < 3; ++repeat) {
    const std::string m = message_of([&] { extract_features(model, d.gallery, s); });
    EXPECT_NE(m.find(d.gallery[1].path), std::string::npos) << m;
  }
  s.batch_size = 0;  // used to loop for ever
  EXPECT_NE(message_of([&] { extract_features(model, d.gallery, s); }).find("batch size"), std::string::npos);
}

TEST(DataRobustness, EveryLoaderPolicyCoversUnreadablePaths) {
  const std::string dir = test::small_inshop("loader_paths");
  const Dataset d = test::read_small_inshop(dir);
  test::replace_with_directory(d.train[5].path);
  auto source = [](int64_t step) { return step == 0 ? std::vector<int>{1, 5, 6} : std::vector<int>{}; };
  LoaderConfig c;
  c.image_size = 32;
  c.workers = 2;
  {
    Loader loader(d, d.train, source, c);
    const std::string message = message_of([&] { loader.next(); });
    EXPECT_NE(message.find(d.train[5].path), std::string::npos) << message;
    EXPECT_NE(message.find("directory"), std::string::npos) << message;
  }
  c.on_bad_image = BadImagePolicy::ReplaceWithinClass;
  {
    Loader loader(d, d.train, source, c);
    const Batch b = loader.next();
    EXPECT_EQ(b.indices, (std::vector<int>{1, 6, 6}));
    EXPECT_EQ(loader.bad_image_paths(), (std::vector<std::string>{d.train[5].path}));
  }
  c.on_bad_image = BadImagePolicy::Drop;
  {
    Loader loader(d, d.train, source, c);
    EXPECT_EQ(loader.next().indices, (std::vector<int>{1, 6}));
  }
  // No permission to read (root reads anything, so only as another user).
  if (::geteuid() != 0) {
    fs::permissions(d.train[6].path, fs::perms::none);
    c.on_bad_image = BadImagePolicy::Drop;
    Loader loader(d, d.train, source, c);
    EXPECT_EQ(loader.next().indices, (std::vector<int>{1}));
    fs::permissions(d.train[6].path, fs::perms::owner_read | fs::perms::owner_write);
  }
}

TEST(DataRobustness, CacheBuildCoversUnreadablePaths) {
  const std::string dir = test::small_inshop("cache_paths");
  const Dataset d = test::read_small_inshop(dir);
  test::replace_with_directory(d.query[0].path);
  const std::string message = message_of([&] { build_image_cache(d, default_cache_dir(d), 32, 2, false); });
  EXPECT_NE(message.find(d.query[0].path), std::string::npos) << message;
  EXPECT_EQ(build_image_cache(d, default_cache_dir(d), 32, 2, true).bad, 1);
  for (const auto& e : fs::directory_iterator(default_cache_dir(d)))  // no staging file left behind
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
}

// Thread creation fails once the address space cannot hold another thread's stack: a limit set for the duration.
TEST(DataRobustness, WorkersThatCannotStartAreAnErrorSayingHowMany) {
#ifdef SGML_TEST_SANITIZED
  GTEST_SKIP() << "an address-space limit breaks the sanitizer's own mappings";
#else
  const std::string dir = test::small_inshop("huge_workers");
  const Dataset d = test::read_small_inshop(dir);
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_AS, &old), 0);
  long pages = 0;
  std::ifstream("/proc/self/statm") >> pages;
  const rlim_t limit = rlim_t(pages) * rlim_t(::sysconf(_SC_PAGESIZE)) + (rlim_t(256) << 20);
  if (old.rlim_max != RLIM_INFINITY && old.rlim_max < limit) GTEST_SKIP() << "address space already limited";
  LoaderConfig c;
  c.image_size = 32;
  c.workers = 100000;
  std::string loader_message, prepare_message;
  rlimit tight = old;
  tight.rlim_cur = limit;
  ASSERT_EQ(::setrlimit(RLIMIT_AS, &tight), 0);
  try {
    Loader loader(d, d.train, [](int64_t) { return std::vector<int>{0, 1}; }, c);
  } catch (const Error& e) {
    loader_message = e.what();
  }
  try {
    build_image_cache(d, default_cache_dir(d), 32, 100000, false);
  } catch (const Error& e) {
    prepare_message = e.what();
  }
  ::setrlimit(RLIMIT_AS, &old);
  EXPECT_NE(loader_message.find("could not start"), std::string::npos) << loader_message;
  EXPECT_NE(loader_message.find("of 100000 loader worker threads"), std::string::npos) << loader_message;
  EXPECT_NE(loader_message.find("--workers"), std::string::npos) << loader_message;
  EXPECT_NE(prepare_message.find("of 100000 decoding threads"), std::string::npos) << prepare_message;
  // Nothing is left half made: the cache was not written, and a normal loader still works.
  EXPECT_FALSE(find_image_cache(d, 32));
  c.workers = 2;
  Loader loader(d, d.train, [](int64_t s) { return s == 0 ? std::vector<int>{0, 1} : std::vector<int>{}; }, c);
  EXPECT_EQ(loader.next().size(), 2);
#endif
}

// ---- the decoded-image cache: interrupted and damaged ----

TEST(DataRobustness, InterruptedPrepareIsReportedAndCleanedUp) {
  const std::string dir = test::small_inshop("interrupted");
  const Dataset d = test::read_small_inshop(dir);
  const std::string cache_dir = default_cache_dir(d), index = cache_index_path(cache_dir, 32);
  const std::string data = cache_dir + "/images_32.u8";
  build_image_cache(d, cache_dir, 32, 2, false);
  ASSERT_TRUE(find_image_cache(d, 32));
  // Killed between moving the data and the index into place: data without an index.
  fs::remove(index);
  std::string why;
  EXPECT_FALSE(find_image_cache(d, 32, &why));
  EXPECT_NE(why.find("'" + data + "' has no index"), std::string::npos) << why;
  EXPECT_NE(why.find("run sgml prepare again"), std::string::npos) << why;
  TrainingStreamConfig tc;
  tc.image_size = 32;
  tc.classes_per_batch = 2;
  tc.images_per_class = 2;
  tc.workers = 1;
  EXPECT_NE(TrainingStream(d, tc).cache_note().find("decoded-image cache not used"), std::string::npos);
  // Killed while decoding: only a staging file of a process that is gone.
  fs::remove(data);
  const std::string stale = data + ".tmp-999999999";
  test::write_file_text(stale, "partial");
  EXPECT_FALSE(find_image_cache(d, 32, &why));
  EXPECT_NE(why.find(stale), std::string::npos) << why;
  EXPECT_NE(why.find("run sgml prepare again"), std::string::npos) << why;
  // The next prepare removes it and makes a usable cache.
  build_image_cache(d, cache_dir, 32, 2, false);
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(find_image_cache(d, 32, &why));
  EXPECT_EQ(why, "");
  // A prepare killed after a complete one: the cache serves, and what the killed one left is said (and its size).
  test::write_file_text(stale, std::string(3 << 20, 'x'));
  EXPECT_TRUE(find_image_cache(d, 32, &why));
  EXPECT_EQ(why, "'" + stale + "' left by a killed sgml prepare (3 MB; the next prepare removes it)");
}

TEST(DataRobustness, DamagedCacheIndexNamesTheFileAndField) {
  const std::string dir = test::small_inshop("damaged_index");
  const Dataset d = test::read_small_inshop(dir);
  build_image_cache(d, default_cache_dir(d), 32, 2, true);
  const std::string index = cache_index_path(default_cache_dir(d), 32);
  const nlohmann::json good = nlohmann::json::parse(test::file_text(index));
  struct Damage {
    std::string what, expected;
    std::function<void(nlohmann::json&)> apply;
  };
  const std::vector<Damage> damages = {
      {"bad key not a number", "field 'bad' has the key 'x1'", [](nlohmann::json& j) { j["bad"]["x1"] = "why"; }},
      {"bad key out of range", "field 'bad' has the key '999'", [](nlohmann::json& j) { j["bad"]["999"] = "why"; }},
      {"bad key negative", "field 'bad' has the key '-1'", [](nlohmann::json& j) { j["bad"]["-1"] = "why"; }},
      {"bad value", "field 'bad' entry '0'", [](nlohmann::json& j) { j["bad"]["0"] = 5; }},
      {"size as text", "field 'size' is not an integer", [](nlohmann::json& j) { j["size"] = "32"; }},
      {"size negative", "field 'size' is -32", [](nlohmann::json& j) { j["size"] = -32; }},
      {"count", "its field 'count' says 3", [](nlohmann::json& j) { j["count"] = 3; }},
      {"path entry", "field 'paths' entry 2", [](nlohmann::json& j) { j["paths"][2] = 7; }},
      {"hex path", "field 'paths' entry 0", [](nlohmann::json& j) { j["paths"][0] = {{"hex", "zz"}}; }},
      {"no format", "has no field 'format'", [](nlohmann::json& j) { j.erase("format"); }},
      {"version", "is version 7", [](nlohmann::json& j) { j["version"] = 7; }},
      {"no paths", "has no list 'paths'", [](nlohmann::json& j) { j.erase("paths"); }},
      {"no boxes", "has no list 'boxes'", [](nlohmann::json& j) { j.erase("boxes"); }},
      {"box entry", "field 'boxes' entry 1", [](nlohmann::json& j) { j["boxes"][1] = {1, 2, "3", 4}; }},
      {"box count", "boxes for", [](nlohmann::json& j) { j["boxes"].erase(0); }},
      {"no stamps", "has no list 'stamps'", [](nlohmann::json& j) { j.erase("stamps"); }},
      {"stamp entry", "field 'stamps' entry 1", [](nlohmann::json& j) { j["stamps"][1] = {12}; }},
      {"stamp size negative", "field 'stamps' entry 2", [](nlohmann::json& j) { j["stamps"][2] = {-1, 5}; }},
      {"stamp as text", "field 'stamps' entry 0", [](nlohmann::json& j) { j["stamps"][0] = {"12", 5}; }},
      {"stamp count", "stamps for", [](nlohmann::json& j) { j["stamps"].erase(0); }},
      {"older version", "prepared by an older sgml (index version 3", [](nlohmann::json& j) { j["version"] = 3; }},
  };
  for (const Damage& damage : damages) {
    nlohmann::json j = good;
    damage.apply(j);
    test::write_file_text(index, j.dump());
    std::string why;
    EXPECT_FALSE(find_image_cache(d, 32, &why)) << damage.what;
    EXPECT_NE(why.find(index), std::string::npos) << damage.what << ": " << why;
    EXPECT_NE(why.find(damage.expected), std::string::npos) << damage.what << ": " << why;
    EXPECT_NE(why.find("run sgml prepare again"), std::string::npos) << damage.what << ": " << why;
  }
  for (const std::string& text : {std::string(""), good.dump().substr(0, 40)}) {  // empty, cut off
    test::write_file_text(index, text);
    std::string why;
    EXPECT_FALSE(find_image_cache(d, 32, &why));
    EXPECT_NE(why.find("run sgml prepare again"), std::string::npos) << why;
  }
  {  // nested 100,000 deep: refused before the parser's value is walked or printed
    test::write_file_text(index, R"({"bad":)" + std::string(100000, '[') + std::string(100000, ']') + "}");
    std::string why;
    EXPECT_FALSE(find_image_cache(d, 32, &why));
    EXPECT_NE(why.find("nests deeper than 32 levels"), std::string::npos) << why;
  }
  // Training goes on without it and says why (it used to stop with "unexpected error: stoi").
  nlohmann::json j = good;
  j["bad"]["x1"] = "why";
  test::write_file_text(index, j.dump());
  TrainingStreamConfig tc;
  tc.image_size = 32;
  tc.classes_per_batch = 2;
  tc.images_per_class = 2;
  tc.workers = 1;
  TrainingStream stream(d, tc);
  EXPECT_NE(stream.cache_note().find("field 'bad'"), std::string::npos) << stream.cache_note();
  EXPECT_EQ(stream.batch(0).size(), 4);
}

// ---- names that are not UTF-8 ----

TEST(DataRobustness, PathTextRoundTripsAnyBytes) {
  const std::string latin1 = "img/caf\xe9/\xff.jpg", good = "img/caf\xc3\xa9.jpg";
  EXPECT_TRUE(is_valid_utf8(good));
  EXPECT_FALSE(is_valid_utf8(latin1));
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_EQ(printable_utf8(latin1), "img/caf\\xe9/\\xff.jpg");
  EXPECT_EQ(printable_utf8(good), good);
  for (const std::string& p : {latin1, good, std::string("\xc3"), std::string()}) {
    const nlohmann::json j = path_to_json(p);
    const nlohmann::json back = nlohmann::json::parse(j.dump());  // dumps without the JSON library's error
    EXPECT_EQ(path_from_json(back), p);
  }
  EXPECT_FALSE(path_from_json(nlohmann::json{{"hex", "abc"}}));
  EXPECT_FALSE(path_from_json(nlohmann::json(3)));
}
