// sgml: train, evaluate and use Semantic Granularity Metric Learning models. Dispatches to the commands.
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include "engine/build_id.h"
#include "engine/check.h"
#include "tools/commands/commands.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

const Command kCommands[] = {
    {"train", sgml::run_train, "train an SGML model on cub, deepfashion, sop, cars, demo or demo-cub"},
    {"eval", sgml::run_eval,
     "Recall@K, MAP@R and NMI of a checkpoint on cub, deepfashion, sop, cars, demo or demo-cub"},
    {"search", sgml::run_search, "visual search: rank a gallery folder against query images"},
    {"info", sgml::run_info, "what a dataset folder holds (images, classes, attributes, defects)"},
    {"prepare", sgml::run_prepare, "decode and resize a dataset once into a memory-mapped cache"},
    {"embed", sgml::run_embed, "features of images from a weights file, as a .npy"},
    {"bench", sgml::run_bench, "time our training step or feature extraction (see BENCHMARKS.md)"},
};

void print_usage() {
  std::printf(
      "usage: sgml COMMAND [OPTIONS]\n\n"
      "Semantic Granularity Metric Learning: a ResNet with an embedding and an attribute branch, trained with the\n"
      "soft-binomial deviance loss, for visual search.\n\ncommands:\n");
  for (const Command& c : kCommands) std::printf("  %-10s %s\n", c.name, c.summary);
  std::printf(
      "\n'sgml COMMAND --help' lists every option of a command with its default; every command prints its\n"
      "resolved configuration on stderr when it starts. 'sgml --version' names the source it was built from.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    print_usage();
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::printf("sgml build %s\n", sgml::build_id());
    return 0;
  }
  for (const Command& c : kCommands) {
    if (std::strcmp(argv[1], c.name) != 0) continue;
    try {
      return c.run(argc, argv);
    } catch (const sgml::Error& e) {
      std::fprintf(stderr, "sgml %s: error: %s\n", c.name, e.what());
      return 1;
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "sgml %s: error: out of memory (try a smaller --batch-size, --image-size or --workers)\n",
                   c.name);
      return 1;
    } catch (const std::exception& e) {
      // Every user mistake is an sgml::Error with a message in plain words; anything else is a defect of ours.
      std::fprintf(stderr, "sgml %s: internal error: %s (please report it)\n", c.name, e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "sgml: unknown command '%s'\n\n", argv[1]);
  print_usage();
  return 2;
}
