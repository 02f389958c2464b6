// sgml search: visual search with a trained model: rank a folder (or list file) of gallery images against query
// images by cosine similarity of their features, and print the ranked paths and scores.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "data/dataset.h"
#include "data/path_text.h"
#include "data/text_lines.h"
#include "engine/check.h"
#include "retrieval/knn_search.h"
#include "tools/commands/commands.h"
#include "tools/commands/option_groups.h"
#include "training/feature_extraction.h"
#include "training/model_loading.h"

namespace sgml {

namespace {

namespace fs = std::filesystem;

// The JPEG/PNG files under a folder, recursively, sorted. A sub-folder that cannot be listed is an error naming it
// (std::filesystem's own exception would reach the user as library text).
std::vector<std::string> images_under(const std::string& folder) {
  std::vector<std::string> paths;
  std::error_code ec;
  std::string last;  // the entry before an error: the sub-folder that could not be opened
  fs::recursive_directory_iterator it(folder, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    last = it->path().string();
    std::string ext = it->path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    std::error_code type_ec;
    if (it->is_regular_file(type_ec) && (ext == ".jpg" || ext == ".jpeg" || ext == ".png"))
      paths.push_back(it->path().string());
  }
  if (ec)
    SGML_FAIL("cannot list the --gallery folder '", folder, "'", last.empty() ? "" : " (after '" + last + "')", ": ",
              ec.message());
  std::sort(paths.begin(), paths.end());
  return paths;
}

// A folder (its JPEG/PNG files, recursively, sorted) or a text file with one path per line.
std::vector<std::string> gallery_paths(const std::string& where) {
  std::vector<std::string> paths;
  std::error_code ec;
  const fs::file_status st = fs::status(where, ec);
  if (fs::is_directory(st)) {
    paths = images_under(where);
  } else {
    if (!fs::exists(st))
      SGML_FAIL("--gallery '", where, "' does not exist (expected a folder of images or a list file)");
    if (!fs::is_regular_file(st) || !std::ifstream(where))
      SGML_FAIL("--gallery '", where, "' is neither a folder nor a readable list file");
    const TextFile list(where);  // a list written on Windows reads the same (CRLF, byte-order mark)
    for (int n = 1; n <= list.num_lines(); ++n)
      if (!list.line(n).empty()) paths.push_back(std::string(list.line(n)));
  }
  if (paths.empty()) SGML_FAIL("--gallery '", where, "' holds no JPEG or PNG images");
  return paths;
}

}  // namespace

int run_search(int argc, char** argv) {
  Options opt("search", "--checkpoint FILE --gallery DIR_OR_LIST [options] IMAGE...",
              "Ranks the gallery images against each query image by cosine similarity of the model's features.");
  declare_inference_options(opt);
  opt.add_required("gallery", "DIR_OR_LIST",
                   "a folder of JPEG/PNG images (searched recursively) or a file with one path per line");
  opt.add("top", "10", "results per query");
  opt.add_flag("json",
               "print a JSON array, one object per query: {\"query\": PATH, \"results\": [{\"path\": PATH, \"score\": "
               "COSINE}, ...]}");
  if (!opt.parse(argc, argv, 2)) return 0;
  // Numbers are checked before the checkpoint is read and the features extracted.
  const InferenceArgs in = read_inference_options(opt);
  const std::string gallery_source = opt.get_required("gallery");
  SGML_CHECK(!opt.positional().empty(), "no query images given");
  set_math_precision(in.precision);
  const int top_requested = opt.get_int("top", limits::kTop);
  InferenceModel m = load_inference_model(opt, in);
  print_configuration("search", opt);
  if (const std::string note = whole_image_note(m.loaded, "search"); !note.empty())
    std::fprintf(stderr, "%s\n", note.c_str());
  m.settings.bad_image_hint = "";  // search has no --skip-bad-images: every query and gallery image must be readable
  const std::vector<std::string> gallery = gallery_paths(gallery_source);
  const std::vector<std::string>& queries = opt.positional();
  const Tensor qf = extract_features(*m.loaded.model, image_records(queries), m.settings).features;
  const Tensor gf = extract_features(*m.loaded.model, image_records(gallery), m.settings).features;
  const int top = std::min<int>(top_requested, int(gallery.size()));
  SGML_CHECK(top >= 1, "--top must be positive");
  if (top < top_requested)
    std::fprintf(stderr, "note: --top %d is more than the gallery's %zu images: each query lists all of them\n",
                 top_requested, gallery.size());
  const Device device = in.device;
  const KnnResult knn = knn_search(device.is_cuda() ? qf.to(device) : qf, device.is_cuda() ? gf.to(device) : gf, top);
  nlohmann::json j = nlohmann::json::array();
  for (size_t q = 0; q < queries.size(); ++q) {
    nlohmann::json results = nlohmann::json::array();
    if (!opt.get_flag("json")) std::printf("%s\n", queries[q].c_str());
    for (int r = 0; r < top; ++r) {
      const int g = knn.index(int64_t(q), r);
      const float score = knn.score(int64_t(q), r);
      results.push_back({{"path", printable_utf8(gallery[g])}, {"score", score}});  // JSON holds only UTF-8
      if (!opt.get_flag("json")) std::printf("  %2d. %.4f  %s\n", r + 1, score, gallery[g].c_str());
    }
    j.push_back({{"query", printable_utf8(queries[q])}, {"results", results}});
  }
  if (opt.get_flag("json")) std::printf("%s\n", j.dump().c_str());
  return 0;
}

}  // namespace sgml
