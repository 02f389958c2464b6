// Every option declared once: the field table of the training configuration (training/config_fields.h) and the
// option groups the commands share (tools/commands/option_groups.h). Checked as properties: the same flag has the
// same help and default in every command that takes it, --help shows one default per option, the saved config.json
// holds exactly the table's saved fields and reads back to the same configuration, the --config file refuses an
// unknown key and its errors name the file and the key's line, every command names an unknown dataset the same way,
// and every command prints its resolved configuration. Models are ResNet-18 at 32 px on the demo data: a few seconds
// each.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "data/dataset.h"
#include "engine/check.h"
#include "tests/support/test_support.h"
#include "tools/commands/options.h"
#include "tools/commands/train_options.h"
#include "training/config_fields.h"
#include "training/resume_check.h"

using namespace sgml;

namespace {

namespace fs = std::filesystem;

using test::sgml;
using test::run_cli;

const char* const kCommands[] = {"train", "eval", "search", "embed", "info", "prepare", "bench"};

// The option lines of `sgml COMMAND --help`, by option name ("data" -> "  --data VALUE   dataset folder ...").
std::map<std::string, std::string> help_lines(const std::string& command) {
  std::string out;
  EXPECT_EQ(run_cli(sgml() + " " + command + " --help", &out), 0) << out;
  std::map<std::string, std::string> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("  --", 0) != 0) continue;
    const size_t end = line.find(' ', 4);
    lines[line.substr(4, end - 4)] = line;
  }
  return lines;
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// The demo dataset, generated once and shared by these tests.
std::string demo_data() {
  const std::string dir = std::string(SGML_BINARY_DIR) + "/test_scratch/cli_options_demo";
  std::string out;
  if (run_cli(sgml() + " info demo --data " + dir + " 2>&1", &out) != 0) ADD_FAILURE() << out;
  return dir;
}

// The configuration `sgml ARGS...` (args[0] "sgml", args[1] "train") trains with, as the train command reads it.
TrainConfig parsed_train_config(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  Options o("train", "", "");
  declare_train_options(o);
  EXPECT_TRUE(o.parse(int(argv.size()), argv.data(), 2));
  return train_config_from_options(o);
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in, nullptr, true, /*ignore_comments=*/true);
}

TEST(CliOptions, EachOptionShowsOneDefault) {
  for (const char* command : kCommands)
    for (const auto& [name, line] : help_lines(command)) {
      EXPECT_LE(count(line, "default:"), 1u) << "sgml " << command << " --help:\n" << line;
      if (name == "data") {
        EXPECT_EQ(count(line, "default:"), 1u) << line;
        EXPECT_EQ(line.find("(default: none)"), std::string::npos) << line;  // the demos have a default folder
      }
    }
}

// `sgml train DATASET --help` shows the defaults of a run on DATASET: each key of configs/DATASET.json (then of
// configs/dnc-DATASET.json with --method dnc) with its file's value and name; `sgml train --help` the built-in ones.
TEST(CliOptions, TrainHelpForADatasetShowsItsConfigDefaults) {
  const auto expect_file_defaults = [](const std::map<std::string, std::string>& lines, const std::string& file,
                                       const std::set<std::string>& except) {
    const nlohmann::json j = read_json(test::source_dir() + "/" + file);
    for (const auto& [key, value] : j.items()) {
      if (key.rfind("_", 0) == 0 || except.count(key)) continue;
      const std::string text = value.is_string() ? value.get<std::string>() : value.dump();
      ASSERT_TRUE(lines.count(key)) << key;
      EXPECT_NE(lines.at(key).find("(default: " + text + ", from " + file + ")"), std::string::npos)
          << file << ": " << lines.at(key);
    }
  };
  const std::map<std::string, std::string> deepfashion = help_lines("train deepfashion");
  expect_file_defaults(deepfashion, "configs/deepfashion.json", {});
  const std::map<std::string, std::string> dnc = help_lines("train cub --method dnc");
  expect_file_defaults(dnc, "configs/dnc-cub.json", {});
  // The dataset's own keys that the D&C file does not set keep the dataset file's value.
  std::set<std::string> dnc_keys;
  const nlohmann::json dnc_file = read_json(test::source_dir() + "/configs/dnc-cub.json");
  for (const auto& item : dnc_file.items()) dnc_keys.insert(item.key());
  expect_file_defaults(dnc, "configs/cub.json", dnc_keys);
  for (const auto& [name, line] : help_lines("train"))
    EXPECT_EQ(line.find(", from configs/"), std::string::npos) << line;
}

// The option groups: commands that run a stored model (eval, search, embed) take the same model and feature flags,
// commands that build a model (train, bench) the same model and batch flags, and every command that reads a dataset
// the same --data: each with the same help and default, line for line.
TEST(CliOptions, SharedFlagsHaveTheSameHelpAndDefault) {
  std::map<std::string, std::map<std::string, std::string>> help;
  for (const char* command : kCommands) help[command] = help_lines(command);
  struct Group {
    std::vector<std::string> commands, flags;
  };
  const Group groups[] = {
      {{"eval", "search", "embed"},
       {"checkpoint", "model", "image-size", "feature", "device", "batch-size", "workers"}},
      {{"train", "bench"}, {"model", "image-size", "device", "classes-per-batch", "images-per-class"}},
      {{"train", "eval", "info", "prepare"}, {"data"}},
      {{"train", "bench", "eval", "search", "embed"}, {"precision"}},
  };
  for (const Group& g : groups)
    for (const std::string& flag : g.flags)
      for (const std::string& command : g.commands) {
        ASSERT_TRUE(help[command].count(flag)) << "sgml " << command << " has no --" << flag;
        EXPECT_EQ(help[command][flag], help[g.commands[0]][flag])
            << "--" << flag << " differs between sgml " << g.commands[0] << " and sgml " << command;
      }
  // What used to differ: embed's --feature defaulted to conv and its --image-size to 224.
  EXPECT_NE(help["embed"]["feature"].find("(default: auto)"), std::string::npos) << help["embed"]["feature"];
  EXPECT_NE(help["embed"]["image-size"].find("(default: 0)"), std::string::npos) << help["embed"]["image-size"];
  // --workers: the same default wherever it is taken.
  for (const char* command : kCommands)
    if (help[command].count("workers"))
      EXPECT_NE(help[command]["workers"].find("(default: 0)"), std::string::npos) << command;
}

TEST(CliOptions, EveryCommandNamesAnUnknownDatasetTheSameWay) {
  const std::string expected = "unknown dataset 'imagenet': expected cub, deepfashion, sop, cars, demo or demo-cub";
  const std::string dir = test::scratch_dir("cli_options_kind");
  for (const std::string& command :
       {sgml() + " train imagenet --out " + dir + "/run", sgml() + " eval imagenet --checkpoint x.safetensors",
        sgml() + " info imagenet", sgml() + " prepare imagenet"}) {
    std::string out;
    EXPECT_NE(run_cli(command + " 2>&1", &out), 0) << command;
    EXPECT_NE(out.find(expected), std::string::npos) << command << "\n" << out;
  }
  for (DatasetKind kind : {DatasetKind::Cub, DatasetKind::DeepFashion, DatasetKind::Sop, DatasetKind::Cars,
                           DatasetKind::Demo, DatasetKind::DemoCub})
    EXPECT_EQ(parse_dataset_kind(dataset_kind_name(kind)), kind);
  for (const char* bad : {"", "CUB", "demo_cub", "deepfashion "})
    EXPECT_NE(test::error_of([&] { parse_dataset_kind(bad); })
                  .find("expected cub, deepfashion, sop, cars, demo or demo-cub"),
              std::string::npos)
        << "'" << bad << "'";
}

// `sgml eval ARGS` parsed with two flags, --crop-boxes (three-valued with auto_allowed) and --json.
Options parsed_flags(std::vector<std::string> args, bool auto_allowed) {
  Options o("eval", "DATASET", "testing flags");
  o.add_flag("crop-boxes", "crop", auto_allowed);
  o.add_flag("json", "json");
  args.insert(args.begin(), {"sgml", "eval"});
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  o.parse(int(argv.size()), argv.data(), 2);
  return o;
}

// A flag alone is true; it may also be given either way (`--crop-boxes false` against a checkpoint that crops), as
// `--flag WORD` only for the flag words, so that a following positional argument (the dataset) stays one. Whether it
// was given at all is known (eval follows the checkpoint's crop when --crop-boxes is not given).
TEST(CliOptions, FlagsTakeTrueOrFalseAndSayWhetherGiven) {
  auto parsed = [](std::vector<std::string> args) { return parsed_flags(std::move(args), /*auto_allowed=*/false); };
  const Options none = parsed({"cars"});
  EXPECT_FALSE(none.was_set("crop-boxes"));
  EXPECT_FALSE(none.get_flag("crop-boxes"));
  for (const auto& [args, value] : std::vector<std::pair<std::vector<std::string>, bool>>{
           {{"cars", "--crop-boxes"}, true},
           {{"--crop-boxes", "cars"}, true},
           {{"cars", "--crop-boxes", "true"}, true},
           {{"--crop-boxes", "false", "cars"}, false},
           {{"cars", "--crop-boxes", "off", "--json"}, false},
           {{"cars", "--crop-boxes=no"}, false},
           {{"cars", "--crop-boxes", "1"}, true}}) {
    const Options o = parsed(args);
    std::string text;
    for (const std::string& a : args) text += a + " ";
    EXPECT_TRUE(o.was_set("crop-boxes")) << text;
    EXPECT_EQ(o.get_flag("crop-boxes"), value) << text;
    EXPECT_EQ(o.positional(), std::vector<std::string>{"cars"}) << text;
  }
  // Another word after a flag stays positional, and is explained as a flag value that is not one.
  const Options stray = parsed({"cars", "--crop-boxes", "maybe"});
  EXPECT_EQ(stray.positional(), (std::vector<std::string>{"cars", "maybe"}));
  EXPECT_EQ(stray.flag_value_hint(0), "");
  for (const std::string part : {std::string("'maybe' after --crop-boxes"), std::string("--crop-boxes is a flag"),
                                 std::string("true or false")})
    EXPECT_NE(stray.flag_value_hint(1).find(part), std::string::npos) << stray.flag_value_hint(1);
  EXPECT_NE(test::error_of([&] { parsed({"cars", "--crop-boxes=maybe"}); }).find("--crop-boxes is a flag"),
            std::string::npos);
}

// A three-valued flag (add_flag with auto_allowed, --crop-boxes): not given or `auto` is auto (nullopt), alone true,
// with a flag word either way; `auto` is one of its words only, so after a plain flag it stays positional.
TEST(CliOptions, ThreeValuedFlagsTakeAuto) {
  auto parsed = [](std::vector<std::string> args) { return parsed_flags(std::move(args), /*auto_allowed=*/true); };
  for (const auto& [args, value] : std::vector<std::pair<std::vector<std::string>, std::optional<bool>>>{
           {{"cub"}, std::nullopt},
           {{"cub", "--crop-boxes", "auto"}, std::nullopt},
           {{"--crop-boxes", "auto", "cub"}, std::nullopt},
           {{"cub", "--crop-boxes=auto"}, std::nullopt},
           {{"cub", "--crop-boxes"}, true},
           {{"--crop-boxes", "cub"}, true},
           {{"cub", "--crop-boxes", "false"}, false},
           {{"cub", "--crop-boxes=on"}, true}}) {
    const Options o = parsed(args);
    std::string text;
    for (const std::string& a : args) text += a + " ";
    EXPECT_EQ(o.get_flag_or_auto("crop-boxes"), value) << text;
    EXPECT_EQ(o.positional(), std::vector<std::string>{"cub"}) << text;
  }
  EXPECT_EQ(parsed({"cub", "--json", "auto"}).positional(), (std::vector<std::string>{"cub", "auto"}));
  EXPECT_NE(test::error_of([&] { parsed({"cub", "--json=auto"}); }).find("--json is a flag"), std::string::npos);
  const std::string maybe = test::error_of([&] { parsed({"cub", "--crop-boxes=maybe"}); });
  EXPECT_NE(maybe.find("or auto, as when not given"), std::string::npos) << maybe;
  const std::string usage = parsed({"cub"}).usage();
  EXPECT_NE(usage.find("crop (default: auto)"), std::string::npos) << usage;
}

// The default image size of info's cache report and prepare's cache comes from configs/KIND.json (read here with
// the JSON library itself), and every kind has such a file.
TEST(CliOptions, DatasetDefaultsComeFromConfigs) {
  for (DatasetKind kind : {DatasetKind::Cub, DatasetKind::DeepFashion, DatasetKind::Sop, DatasetKind::Cars,
                           DatasetKind::Demo, DatasetKind::DemoCub}) {
    const std::string name = dataset_kind_name(kind);
    const std::string path = test::source_dir() + "/configs/" + name + ".json";
    ASSERT_TRUE(fs::exists(path)) << path;
    const nlohmann::json j = read_json(path);
    EXPECT_EQ(dataset_config_defaults(name).image_size, j.at("image-size").get<int>()) << path;
    EXPECT_EQ(dataset_config_defaults(name).model, j.at("model").get<std::string>()) << path;
  }
  std::string out;
  ASSERT_EQ(run_cli(sgml() + " info demo --data " + demo_data() + " 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("  cache-size = " + std::to_string(read_json(test::source_dir() + "/configs/demo.json")
                                                             .at("image-size").get<int>())),
            std::string::npos)
      << out;
}

TEST(CliOptions, AnUnknownConfigKeyIsAnErrorNamingKeyAndFile) {
  const std::string dir = test::scratch_dir("cli_options_config");
  const std::string train = sgml() + " train demo --data " + dir + "/nowhere --out " + dir + "/run --config ";
  const std::pair<const char*, const char*> cases[] = {{R"({"lerning-rate": 0.1})", "lerning-rate"},
                                                       {R"({"epochs": 2, "image_szie": 64})", "image_szie"},
                                                       {R"({"config": "other.json"})", "config"}};
  int i = 0;
  for (const auto& [text, key] : cases) {
    const std::string path = dir + "/c" + std::to_string(i++) + ".json";
    std::ofstream(path) << text;
    std::string out;
    EXPECT_NE(run_cli(train + path + " 2>&1", &out), 0) << text;
    EXPECT_NE(out.find("config file '" + path + "', line 1: unknown key \"" + key + "\""), std::string::npos) << out;
  }
  // Comments ("_comment" keys, // and /* */) are no keys; '_' and '-' are alike.
  std::ofstream(dir + "/ok.json") << "// the demo\n{\"_comment\": \"x\", \"image_size\": 4096 /* too big */}";
  std::string out;
  EXPECT_NE(run_cli(train + dir + "/ok.json 2>&1", &out), 0);
  EXPECT_NE(out.find("--image-size (set in config file '" + dir + "/ok.json', line 2) must be between"),
            std::string::npos)
      << out;
}

// A string value is read as the command line reads the option's text ("lr": "1e-3" is --lr 1e-3), with the same
// checks; the error names the file and the key's line.
TEST(CliOptions, ConfigStringValuesReadAsOnTheCommandLine) {
  const std::string dir = test::scratch_dir("cli_options_config_strings");
  const std::string train = sgml() + " train demo --data " + dir + "/nowhere --out " + dir + "/run --config ";
  const std::pair<const char*, const char*> cases[] = {
      {"{\"lr\": \"1e-3x\"}", "--lr (set in config file 'PATH', line 1) expects a number, got '1e-3x'"},
      {"{\"epochs\": 2,\n\"image-size\": \"ten\"}",
       "--image-size (set in config file 'PATH', line 2) expects an integer, got 'ten'"},
      {"{\"image_size\": \"4096\"}", "--image-size (set in config file 'PATH', line 1) must be between"}};
  int i = 0;
  for (const auto& [text, expected] : cases) {
    const std::string path = dir + "/c" + std::to_string(i++) + ".json";
    std::ofstream(path) << text;
    std::string want = expected, out;
    want.replace(want.find("PATH"), 4, path);
    EXPECT_NE(run_cli(train + path + " 2>&1", &out), 0) << text;
    EXPECT_NE(out.find(want), std::string::npos) << out;
  }
}

// An error about a value from a config file names the file and the line of its key, wherever the value is checked:
// one option's value (a choice here), or several options at once (a rule between them), where only those the file
// set are traced to it. Keys in comments and in strings are not keys.
TEST(CliOptions, ConfigFileErrorsNameFileAndLine) {
  const std::string dir = test::scratch_dir("cli_options_config_lines");
  const std::string train = sgml() + " train demo --data " + dir + "/nowhere --out " + dir + "/run --config ";
  const std::string choice = dir + "/choice.json";
  std::ofstream(choice) << "// \"class-balance\": \"fixed\" {\n"
                           "{\n"
                           "  \"_comment\": \"a { and a lone \\\" quote\",\n"
                           "  \"class-balance\"\n"
                           "    : \"even\",\n"
                           "  /* \"epochs\": 1,\n"
                           "     \"class-balance\": \"fixed\", */ \"epochs\": 2\n"
                           "}\n";
  std::string out;
  EXPECT_NE(run_cli(train + choice + " 2>&1", &out), 0);
  EXPECT_NE(out.find("--class-balance (set in config file '" + choice + "', line 4) must be fixed or adaptive, got "
                     "'even'"),
            std::string::npos)
      << out;

  const std::string rule = dir + "/rule.json";
  std::ofstream(rule) << "{\"method\": \"dnc\",\n \"division\": \"hierarchical\",\n \"learners\": 3}\n";
  EXPECT_NE(run_cli(train + rule + " 2>&1", &out), 0);
  // (The test suite's source locations may stand between the message and the origins.)
  EXPECT_NE(out.find("--learners must be a power of two, got 3"), std::string::npos) << out;
  EXPECT_NE(out.find("(--division: config file '" + rule + "', line 2; --learners: config file '" + rule +
                     "', line 3)"),
            std::string::npos)
      << out;
  // --learners from the command line: only --division is traced to the file.
  EXPECT_NE(run_cli(train + rule + " --learners 5 2>&1", &out), 0);
  EXPECT_NE(out.find("got 5"), std::string::npos) << out;
  EXPECT_NE(out.find("(--division: config file '" + rule + "', line 2)"), std::string::npos) << out;
}

// Numbers are decimal, written alone: strtod also read " 5", "0x10" (16) and "0x1p-10", which ran. A value that
// is the next option means the value is missing. Too large a count names the upper bound.
TEST(CliOptions, NumbersAreDecimalAndValuesAreNotOptions) {
  const std::string dir = test::scratch_dir("cli_options_numbers");
  const std::string train = sgml() + " train demo --data " + dir + "/nowhere --out " + dir + "/run ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--lr 0x10", "--lr expects a decimal number, got '0x10'"},
      {"--lr 0x1p-10", "--lr expects a decimal number, got '0x1p-10'"},
      {"--lr ' 0.001'", "--lr expects a decimal number, got ' 0.001'"},
      {"--lr 1e", "--lr expects a number, got '1e'"},
      {"--epochs ' 5'", "--epochs expects an integer, got ' 5'"},
      {"--epochs 5.", "--epochs expects an integer, got '5.'"},
      {"--steps 99999999999", "--steps must be at most 2147483647 (the largest int), got 99999999999"},
      {"--out --resume", "option --out needs a value (run directory), got the option --resume"},
      {"--loss margin --images-per-class 1", "--loss margin needs --images-per-class 2 or more"},
      {"--loss rank --images-per-class 1", "--loss rank needs --images-per-class 2 or more"},
      {"--loss metric --images-per-class 1", "--loss metric needs --images-per-class 2 or more"},
      {"--images-per-class 1", "--loss sgml needs --images-per-class 2 or more"},
  };
  std::string out;
  for (const auto& [args, message] : cases) {
    EXPECT_NE(run_cli(train + args + " 2>&1", &out), 0) << args;
    EXPECT_NE(out.find(message), std::string::npos) << args << ": " << out;
  }
  run_cli(train + "--loss attribute --images-per-class 1 2>&1", &out);  // the attributes' BCE needs no pairs
  EXPECT_EQ(out.find("needs --images-per-class"), std::string::npos) << out;
  for (const char* fine : {"--lr 1e-3 --steps 0", "--lr 5E+1 --steps 0", "--lr .5 --steps 0", "--lr +2 --steps 0"}) {
    run_cli(train + fine + " --epochs 0 2>&1", &out);  // parsed, then refused for its length alone
    EXPECT_NE(out.find("--epochs or --steps must be positive"), std::string::npos) << fine << ": " << out;
  }
  const std::string eval =
      sgml() + " eval demo --data " + dir + "/nowhere --checkpoint " + dir + "/none.safetensors --k ";
  for (const char* k : {"1,10,", "' 1'", "+1", "1,,2", "0", "1e3"}) {
    EXPECT_NE(run_cli(eval + k + " 2>&1", &out), 0) << k;
    EXPECT_NE(out.find("--k expects positive integers separated by commas"), std::string::npos) << k << ": " << out;
  }
}

// A mistyped option names the options it may have meant instead of listing all seventy, and the message says
// "sgml train: error:" once; a name near none points to --help. Config file keys get the same suggestion.
TEST(CliOptions, AMistypedOptionNamesTheNearestOptions) {
  const std::string dir = test::scratch_dir("cli_options_typos");
  const std::string train = sgml() + " train demo --data " + dir + "/nowhere --out " + dir + "/run ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--lrr 3", "unknown option '--lrr' (did you mean --lr?); sgml train --help lists them all"},
      {"--learner 4", "unknown option '--learner' (did you mean --learners or --learner-masks?)"},
      {"--epoch 4", "unknown option '--epoch' (did you mean --epochs?)"},
      {"--zzzzzz 1", "unknown option '--zzzzzz'; sgml train --help lists them all"},
  };
  std::string out;
  for (const auto& [args, message] : cases) {
    EXPECT_NE(run_cli(train + args + " 2>&1", &out), 0) << args;
    EXPECT_NE(out.find(message), std::string::npos) << args << ": " << out;
    EXPECT_EQ(out.find("sgml train: error: sgml train"), std::string::npos) << out;
    EXPECT_EQ(out.find("--checkpoint-every"), std::string::npos) << "no list of every option: " << out;
  }
  const std::string config = dir + "/typo.json";
  std::ofstream(config) << "{\n  \"epoch\": 3\n}\n";
  EXPECT_NE(run_cli(train + "--config " + config + " 2>&1", &out), 0);
  EXPECT_NE(out.find("unknown key \"epoch\" (sgml train has no option --epoch (did you mean --epochs?)"),
            std::string::npos)
      << out;
}

// A config file nested 100,000 deep is refused in words (printing its value in an error overflowed the stack).
TEST(CliOptions, ADeeplyNestedConfigFileIsRefused) {
  const std::string dir = test::scratch_dir("cli_options_deep");
  const std::string config = dir + "/deep.json";
  std::ofstream(config) << R"({"lr": )" << std::string(100000, '[') << std::string(100000, ']') << "}";
  std::string out;
  EXPECT_EQ(
      run_cli(sgml() + " train demo --data " + dir + "/nowhere --out " + dir + "/run --config " + config + " 2>&1",
              &out),
      1)
      << out;
  EXPECT_NE(out.find("config file '" + config + "' nests 100001 levels of arrays and objects; at most 32 are read"),
            std::string::npos)
      << out;
}

// An option given twice on the command line gets a note saying which value is used (the last, as before, when it
// was silent); a key given twice in a config file, also as its other spelling, is an error naming both lines, since
// JSON keeps the last without a word. A value of the wrong JSON kind is refused, naming the key.
TEST(CliOptions, RepeatedOptionsAndKeysAreSaid) {
  const std::string dir = test::scratch_dir("cli_options_repeated");
  const std::string train = sgml() + " train demo --data " + dir + "/nowhere --out " + dir + "/run ";
  std::string out;
  run_cli(train + "--lr 0.5 --lr 0.001 --epochs 0 --steps 0 2>&1", &out);
  EXPECT_NE(out.find("note: --lr is given twice (0.5, then 0.001): the last is used"), std::string::npos) << out;
  run_cli(sgml() + " embed --checkpoint a.safetensors --weights b.safetensors --out " + dir + "/x.npy 2>&1", &out);
  EXPECT_NE(out.find("note: --checkpoint is given twice (a.safetensors, then b.safetensors)"), std::string::npos)
      << out;

  const std::vector<std::pair<std::string, std::string>> files = {
      {"{\n \"seed\": 1,\n \"seed\": 2\n}\n", "line 3: key \"seed\" is given twice (also on line 2)"},
      {"{\"frozen_bn\": true,\n \"frozen-bn\": false}\n", "names the option of key"},
      {"{\"out\": {\"a\": 1}}\n", "line 1) must be a string, a number or true/false, got {\"a\":1}"},
      {"{\"metrics\": [1]}\n", "--metrics (set in config file"},
      {"{\"frozen-bn\": 1}\n", "--frozen-bn (set in config file"},
      // Values checked where they were set, before the dataset is read (they named neither option nor file).
      {"{\"model\": \"resnet19\"}\n", "--model (set in config file"},
      {"{\"device\": \"gpu\"}\n", "--device (set in config file"},
  };
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string path = dir + "/c" + std::to_string(i) + ".json";
    std::ofstream(path) << files[i].first;
    EXPECT_NE(run_cli(train + "--config " + path + " 2>&1", &out), 0) << files[i].first;
    EXPECT_NE(out.find("config file '" + path + "'"), std::string::npos) << out;
    EXPECT_NE(out.find(files[i].second), std::string::npos) << files[i].first << ": " << out;
  }
}

// Each field set to a value other than its default, by the table's own type (an independent choice of values).
TrainConfig config_unlike_the_default() {
  TrainConfig c;
  c.dataset = "cub";
  c.data_dir = "/d";
  c.model = "resnet18";
  c.weights = "/w.safetensors";
  c.no_pretrained = true;
  c.init = "/i.safetensors";
  c.image_size = 96;
  c.device = "cpu";
  c.precision = "tf32";
  c.loss = LossMode::Metric;
  c.sampling = Sampling::ImageWise;
  c.classes_per_batch = 7;
  c.images_per_class = 3;
  c.class_balance = "adaptive";
  c.embedding_init = "torch";
  c.mask_init = "normal";
  c.stop_reclustering = true;
  c.triplets_per_batch = 11;
  c.alpha = 2.5;
  c.beta = -0.25;
  c.lambda = 0.125;
  c.sgs_grad = false;
  c.rank_tau = 0.125;
  c.rank_rho = 0.375;
  c.margin = 0.125;
  c.margin_beta = 0.875;
  c.sampler = "nearest";
  c.learn_beta = true;
  c.beta_lr = 2.5e-3;
  c.beta_nu = 0.0625;
  c.method = "dnc";
  c.learners = 4;
  c.recluster_every = 3;
  c.full_embedding_epoch = 5;
  c.finetune_epoch = 7;
  c.batches_per_epoch = "max";
  c.learner_masks = "learned";
  c.division = "hierarchical";
  c.freeze_backbone_epochs = 2;
  c.mask_lr_mult = 12.5;
  c.mask_lambda = 0.25;
  c.embedding_dim = 96;
  c.head = "linear";
  c.dropout = 0.25;
  c.lr = 3e-5;
  c.weight_decay = 1e-6;
  c.lr_schedule = "step";
  c.lr_step_epochs = 4;
  c.lr_gamma = 0.5;
  c.warmup_steps = 9;
  c.epochs = 12;
  c.steps = 13;
  c.seed = 123456789u;
  c.out_dir = "/o";
  c.resume = true;
  c.batch_plan = "/plan.txt";
  c.augment = false;
  c.train_crop = "random-resized";
  c.eval_resize = 112;  // at least the image size (96)
  c.frozen_bn = true;
  c.crop_boxes = "false";
  c.metrics_file = "/m.jsonl";
  c.save_file = "/s.safetensors";
  c.workers = 5;
  c.eval_every = -1;
  c.skip_bad_images = true;
  c.eval_feature = "conv";
  c.checkpoint_every = 17;
  return c;
}

TEST(CliOptions, SavedConfigRoundTripsThroughTheTable) {
  const TrainConfig c = config_unlike_the_default(), d;
  for (const ConfigField& f : config_fields()) EXPECT_NE(f.text(c), f.text(d)) << f.name << ": the test misses it";
  const nlohmann::json j = c.to_json();
  std::set<std::string> saved;
  for (const ConfigField& f : config_fields())
    if (f.saved) saved.insert(f.key());
  std::set<std::string> keys;
  for (const auto& item : j.items()) keys.insert(item.key());
  EXPECT_EQ(keys, saved);
  const TrainConfig back = TrainConfig::from_json(nlohmann::json::parse(j.dump()), "test");
  for (const ConfigField& f : config_fields())
    EXPECT_EQ(f.text(back), f.saved ? f.text(c) : f.text(d)) << f.name;
  // The same values as command-line options read back the same (the text is what --help and the printout show).
  std::vector<std::string> args = {"sgml", "train", "cub"};
  for (const ConfigField& f : config_fields()) {
    if (!f.option) continue;
    if (f.style == FieldStyle::Flag) args.push_back("--" + f.name);
    else args.push_back("--" + f.name + "=" + f.text(c));
  }
  const TrainConfig parsed = parsed_train_config(args);
  for (const ConfigField& f : config_fields())
    if (f.option) EXPECT_EQ(f.text(parsed), f.text(c)) << f.name;
  // The resume rules name fields of the table.
  EXPECT_TRUE(resume_rules_without_field().empty());
}

// --resume lets a field differ that the run does not read (a default that changed since the run started, --margin
// of an SGML run), with a note saying so; the same field is refused where the run reads it.
TEST(CliOptions, ResumeLetsAFieldTheRunDoesNotReadDiffer) {
  TrainConfig stored;
  stored.loss = LossMode::Sgml;
  stored.margin = 0.2;
  stored.beta_lr = 0.001;
  TrainConfig now = stored;
  now.margin = 0.3;
  now.beta_lr = 0.01;
  ResumeDifferences d = compare_for_resume(stored.to_json(), now);
  EXPECT_TRUE(d.refused.empty());
  EXPECT_EQ(d.notes,
            (std::vector<std::string>{
                "--margin: 0.2 in the checkpoint, 0.3 now (not used by this run: only with --loss margin)",
                "--beta-lr: 0.001 in the checkpoint, 0.01 now (not used by this run: only with --learn-beta)"}));
  stored.loss = now.loss = LossMode::Margin;
  d = compare_for_resume(stored.to_json(), now);
  EXPECT_EQ(d.refused, (std::vector<std::string>{"--margin: 0.2 in the checkpoint, 0.3 now"}));
  // What decides whether a field is read is itself refused: the loss and its parameter are both listed.
  now.loss = LossMode::Sgml;
  now.margin = 0.2;
  now.alpha = stored.alpha + 1;
  d = compare_for_resume(stored.to_json(), now);
  ASSERT_EQ(d.refused.size(), 2u);
  EXPECT_EQ(d.refused[0].rfind("--loss: 'margin' in the checkpoint, 'sgml' now", 0), 0u) << d.refused[0];
  EXPECT_EQ(d.refused[1].rfind("--alpha: ", 0), 0u) << d.refused[1];
}

// An on/off option (--augment) takes the flags' words, and any other word is an error that says on or off.
TEST(CliOptions, OnOffOptionsTakeTheFlagWords) {
  auto augment = [](const std::string& word) {
    std::vector<std::string> args = {"sgml", "train", "demo", "--augment", word};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    Options o("train", "", "");
    declare_train_options(o);
    o.parse(int(argv.size()), argv.data(), 2);
    return train_config_from_options(o).augment;
  };
  for (const char* word : {"on", "true", "yes", "1"}) EXPECT_TRUE(augment(word)) << word;
  for (const char* word : {"off", "false", "no", "0"}) EXPECT_FALSE(augment(word)) << word;
  EXPECT_NE(test::error_of([&] { augment("maybe"); }).find("--augment expects on or off, got 'maybe'"),
            std::string::npos);
}

// Options that the run's other settings leave without effect are noted when given on the command line, naming what
// they need; those in a --config file (a run's own config.json holds every field) and those that take effect are not.
// The notes of `sgml train demo ARGS...`.
std::vector<std::string> unused_notes_of(std::vector<std::string> args) {
  args.insert(args.begin(), {"sgml", "train", "demo"});
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  Options o("train", "", "");
  declare_train_options(o);
  EXPECT_TRUE(o.parse(int(argv.size()), argv.data(), 2));
  return unused_option_notes(o, train_config_from_options(o));
}

TEST(CliOptions, OptionsWithoutEffectAreNoted) {
  const std::string dir = test::scratch_dir("cli_options_unused");
  std::ofstream(dir + "/c.json") << R"({"rank-tau": 0.1, "learners": 3})";
  const std::vector<std::string> notes =
      unused_notes_of({"--loss", "sgml", "--margin", "0.3", "--beta-lr", "0.01", "--lr-gamma", "0.5", "--lr-schedule",
                       "step", "--augment", "off", "--train-crop", "random-resized", "--config", dir + "/c.json"});
  const std::vector<std::string> expected = {
      "note: --margin changes nothing in this run: it is used only with --loss margin",
      "note: --beta-lr changes nothing in this run: it is used only with --learn-beta",
      "note: --train-crop changes nothing in this run: it is used only with --augment on"};
  EXPECT_EQ(notes, expected);  // not --lr-gamma (the schedule is step), nor the config file's rank-tau and learners
}

// The loss's own parameters and the other sampling's sizes, noted when the run does not use them (they ran
// without a word). losses/sgml_objective.cpp says which loss reads which.
TEST(CliOptions, LossAndSamplingOptionsWithoutEffectAreNoted) {
  const auto notes_of = unused_notes_of;
  const std::string only = " changes nothing in this run: it is used only with ";
  EXPECT_EQ(notes_of({"--loss", "metric", "--lambda", "3", "--sgs-grad", "off", "--triplets-per-batch", "10",
                      "--alpha", "3", "--images-per-class", "3"}),
            (std::vector<std::string>{"note: --triplets-per-batch" + only + "--sampling image",
                                      "note: --lambda" + only + "--loss sgml, multitask or rank-multitask",
                                      "note: --sgs-grad" + only + "--loss sgml"}));
  EXPECT_EQ(notes_of({"--loss", "attribute", "--sampling", "image", "--classes-per-batch", "3", "--beta", "0.3",
                      "--triplets-per-batch", "10"}),
            (std::vector<std::string>{"note: --classes-per-batch" + only + "--sampling batch",
                                      "note: --beta" + only + "--loss sgml, multitask or metric"}));
  EXPECT_TRUE(notes_of({"--loss", "sgml", "--lambda", "2", "--alpha", "3", "--sgs-grad", "off"}).empty());
}

// --eval-resize is in pixels: a config's 256 (chosen for 224 px) under a command-line --image-size gets a note with
// the value at the same ratio; none when the command line gives --eval-resize too, or keeps the default size.
TEST(CliOptions, AnAbsoluteEvalResizeUnderAnotherImageSizeIsNoted) {
  const std::string dir = test::scratch_dir("cli_options_eval_resize");
  std::ofstream(dir + "/c.json") << R"({"eval-resize": 256})";
  auto note = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"sgml", "train", "demo", "--config", dir + "/c.json"});
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    Options o("train", "", "");
    declare_train_options(o);
    EXPECT_TRUE(o.parse(int(argv.size()), argv.data(), 2));
    return eval_resize_note(o, train_config_from_options(o));
  };
  EXPECT_EQ(note({"--image-size", "64"}),
            "note: --eval-resize 256 is in pixels, not scaled with --image-size 64: the evaluation keeps the centre "
            "64 x 64 of the image resized to 256; --eval-resize 73 keeps its ratio to the default 224 px");
  EXPECT_EQ(note({"--image-size", "64", "--eval-resize", "256"}), "");  // said on the command line: meant
  EXPECT_EQ(note({"--image-size", "224"}), "");
  EXPECT_EQ(note({}), "");
  EXPECT_NE(note({"--image-size", "240"}).find("--eval-resize 274 keeps"), std::string::npos);
}

// A run's config.json holds the table's saved fields with the values given, and the run prints every field's
// resolved value; eval, search, embed, info, prepare and bench print theirs too, with "auto" values resolved.
// A run's config.json serves as --config for another run of its dataset (its "dataset" key is the command's
// argument, not an option: it was refused as an unknown key); for another dataset the key is an error naming its line.
TEST(CliOptions, ARunsConfigFileServesAnotherRun) {
  const std::string dir = test::scratch_dir("config_of_a_run"), data = demo_data();
  std::string out;
  ASSERT_EQ(run_cli(sgml() + " train demo --data " + data + " --out " + dir + "/first --lr 0.0007" +
                        test::kSmallLossRun + " 2>&1", &out), 0) << out;
  const std::string config = dir + "/first/config.json";
  ASSERT_EQ(run_cli(sgml() + " train demo --data " + data + " --config " + config + " --out " + dir + "/second" +
                        test::kSmallLossRun + " 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("\n  lr = 0.0007\n"), std::string::npos) << out;
  EXPECT_NE(out.find("key \"out\" is not used: a run's config.json as --config gives its settings"), std::string::npos)
      << out;
  EXPECT_NE(run_cli(sgml() + " train demo-cub --config " + config + " --out " + dir + "/third" + test::kSmallLossRun +
                        " 2>&1", &out), 0) << out;
  const std::string text = test::file_text(config);
  const size_t key = text.find("\"dataset\"");
  ASSERT_NE(key, std::string::npos) << text;
  const int line = int(std::count(text.begin(), text.begin() + long(key), '\n')) + 1;
  EXPECT_NE(out.find("config file '" + config + "', line " + std::to_string(line) +
                     ": \"dataset\" is demo, the command's is demo-cub"), std::string::npos) << out;
  // Where that run's files went, and whether it resumed, are not taken: a new run into its folder would set its
  // files aside. A config file of settings alone (no "dataset") keeps all its keys.
  for (const bool of_a_run : {true, false}) {
    test::write_file_text(dir + "/c.json", std::string("{") + (of_a_run ? "\"dataset\": \"demo\", " : "") +
                                               "\"out\": \"" + dir + "/first\", \"metrics\": \"m.jsonl\", "
                                               "\"save\": \"w.safetensors\", \"lr\": 0.25}");
    const TrainConfig c = parsed_train_config({"sgml", "train", "demo", "--config", dir + "/c.json"});
    EXPECT_EQ(c.lr, 0.25);
    EXPECT_EQ(c.out_dir.empty(), of_a_run) << c.out_dir;
    EXPECT_EQ(c.metrics_file.empty(), of_a_run) << c.metrics_file;
    EXPECT_EQ(c.save_file.empty(), of_a_run) << c.save_file;
  }
}

// eval, embed and search given a run's folder name its checkpoints, and given a --model that is not the file's say
// so in those words (the loader's first mismatched key shape was all they said); a bare weights file's ResNet is
// detected from its keys. train's --weights of another depth too.
TEST(CliOptions, InferenceNamesARunFolderAndAWrongModel) {
  const std::string dir = test::scratch_dir("wrong_model"), data = demo_data(), run = dir + "/run";
  std::string out;
  ASSERT_EQ(run_cli(sgml() + " train demo --data " + data + " --out " + run + test::kSmallLossRun + " 2>&1", &out), 0)
      << out;
  const std::string eval = sgml() + " eval demo --data " + data + " --no-nmi --device cpu --checkpoint ";
  EXPECT_NE(run_cli(eval + run + " 2>&1", &out), 0);
  EXPECT_NE(out.find("it is a directory (a run's folder: give '" + run + "/last.safetensors')"), std::string::npos)
      << out;
  EXPECT_NE(run_cli(eval + run + "/last.safetensors --model resnet34 2>&1", &out), 0);
  EXPECT_NE(out.find("--model resnet34: '" + run + "/last.safetensors' is a resnet18 checkpoint"), std::string::npos)
      << out;
  // The same weights without the run's configuration (`sgml train --save`'s kind of file).
  ASSERT_EQ(run_cli(sgml() + " train demo --data " + data + " --out " + dir + "/bare_run --save " + dir +
                        "/bare.safetensors" + test::kSmallLossRun + " 2>&1", &out), 0) << out;
  EXPECT_NE(run_cli(eval + dir + "/bare.safetensors --model resnet50 2>&1", &out), 0);
  EXPECT_NE(out.find("--model resnet50: '" + dir + "/bare.safetensors' holds resnet18 weights"), std::string::npos)
      << out;
  // Training from weights of another depth says the same (it listed the keys the model missed).
  EXPECT_NE(run_cli(sgml() + " train demo --data " + data + " --out " + dir + "/deeper --weights " + dir +
                        "/bare.safetensors --model resnet34 --steps 1 --eval-every -1 --device cpu 2>&1", &out), 0);
  EXPECT_NE(out.find("--weights '" + dir + "/bare.safetensors' holds resnet18 weights, and the run's --model is "
                     "resnet34"), std::string::npos) << out;
}

// Batch norm frozen in a run from scratch keeps its initial statistics: noted (configs/sop.json and cars.json freeze
// it for pretrained weights), and not for a run that learns them.
TEST(CliOptions, FrozenBatchNormFromScratchIsNoted) {
  const std::string dir = test::scratch_dir("frozen_from_scratch"), data = demo_data();
  const std::string train = sgml() + " train demo --data " + data + test::kSmallLossRun + " --steps 1 --out " + dir;
  std::string out;
  ASSERT_EQ(run_cli(train + "/frozen --frozen-bn 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("note: --frozen-bn from scratch (--no-pretrained): batch norm keeps its initial statistics"),
            std::string::npos) << out;
  ASSERT_EQ(run_cli(train + "/learning 2>&1", &out), 0) << out;
  EXPECT_EQ(out.find("note: --frozen-bn"), std::string::npos) << out;
}

TEST(CliOptions, EveryCommandPrintsItsResolvedConfiguration) {
  const std::string dir = test::scratch_dir("cli_options_print"), run_dir = dir + "/run", data = demo_data();
  std::string out;
  ASSERT_EQ(run_cli(sgml() + " train demo --data " + data + " --out " + run_dir + " --model resnet18 --image-size 32"
                    " --classes-per-batch 2 --images-per-class 2 --steps 1 --eval-every -1 --device cpu --workers 1"
                    " --seed 7 --eval-feature fc 2>&1", &out), 0) << out;
  const nlohmann::json saved = read_json(run_dir + "/config.json");
  EXPECT_EQ(saved.at("image_size"), 32);
  EXPECT_EQ(saved.at("seed"), 7);
  EXPECT_EQ(saved.at("eval_feature"), "fc");
  EXPECT_EQ(saved.at("lr_schedule"), read_json(test::source_dir() + "/configs/demo.json").at("lr-schedule"));
  const TrainConfig stored = TrainConfig::from_json(saved, "config.json");
  for (const ConfigField& f : config_fields()) {
    EXPECT_EQ(saved.contains(f.key()), f.saved) << f.name;
    EXPECT_NE(out.find("\n  " + f.name + " = " + f.text(stored) + "\n"), std::string::npos)
        << f.name << " not printed as " << f.text(stored) << ":\n" << out;
  }

  const std::string checkpoint = run_dir + "/last.safetensors", image = data + "/Img";
  std::string query;
  for (const auto& e : fs::recursive_directory_iterator(image))
    if (query.empty() && e.path().extension() == ".jpg") query = e.path().string();
  ASSERT_FALSE(query.empty());
  const std::string demo_size =
      std::to_string(read_json(test::source_dir() + "/configs/demo.json").at("image-size").get<int>());
  const std::pair<std::string, std::vector<std::string>> commands[] = {
      // The inference commands print what their "auto" resolved to: the checkpoint's model, size and feature, the
      // device that runs.
      {"eval demo --data " + data + " --no-nmi --checkpoint " + checkpoint,
       {"image-size = 32", "feature = fc", "model = resnet18", "device = cpu"}},
      {"search --top 2 --gallery " + image + " --checkpoint " + checkpoint + " " + query,
       {"image-size = 32", "feature = fc", "model = resnet18", "device = cpu"}},
      {"embed --out " + dir + "/f.npy --checkpoint " + checkpoint + " " + query,
       {"image-size = 32", "feature = fc", "model = resnet18", "device = cpu"}},
      {"embed --device auto --out " + dir + "/g.npy --checkpoint " + checkpoint + " " + query,
       {"device = " + std::string(cuda_available() ? "cuda:0" : "cpu")}},
      {"info demo --data " + data, {"data = " + data, "cache-size = " + demo_size}},
      {"prepare demo --size 32 --data " + data + " --out " + dir + "/cache", {"size = 32", "out = " + dir + "/cache"}},
      {"bench eval --model resnet18 --image-size 32 --batch-size 2 --warmup 0 --steps 1", {"model = resnet18"}},
  };
  for (const auto& [command, lines] : commands) {
    const std::string name = command.substr(0, command.find(' '));
    const bool has_device = name != "info" && name != "prepare" && command.find("--device") == std::string::npos;
    ASSERT_EQ(run_cli(sgml() + " " + command + (has_device ? " --device cpu" : "") + " 2>&1", &out), 0)
        << command << "\n" << out;
    EXPECT_NE(out.find("sgml " + name + ": configuration:\n"), std::string::npos) << command << "\n" << out;
    for (const std::string& line : lines)
      EXPECT_NE(out.find("\n  " + line + "\n"), std::string::npos) << command << ": no '" << line << "' in\n" << out;
  }
}

}  // namespace
