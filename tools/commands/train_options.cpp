#include "tools/commands/train_options.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <type_traits>
#include <variant>

#include "data/project_paths.h"
#include "engine/check.h"
#include "engine/device.h"
#include "training/config_fields.h"
#include "training/option_use.h"

namespace sgml {

namespace {

// "constant, step or cosine"
std::string alternatives(const std::vector<std::string>& choices) {
  std::string text;
  for (size_t i = 0; i < choices.size(); ++i)
    text += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
  return text;
}

void declare_field(Options& o, const ConfigField& f) {
  if (f.style == FieldStyle::Flag) o.add_flag(f.name, f.help);
  else if (f.style == FieldStyle::AutoFlag) o.add_flag(f.name, f.help, /*auto_allowed=*/true);
  else o.add(f.name, f.text(TrainConfig{}), f.help, f.default_text);
}

void read_field(const Options& o, const ConfigField& f, TrainConfig& c) {
  std::visit(
      [&](auto m) {
        auto& field = c.*m;
        using T = std::decay_t<decltype(field)>;
        if constexpr (std::is_same_v<T, bool>) {
          field = f.style == FieldStyle::Flag ? o.get_flag(f.name) : o.get_on_off(f.name);
        } else if constexpr (std::is_same_v<T, double>) {
          field = o.get_double(f.name, f.reals);
        } else if constexpr (std::is_same_v<T, int>) {
          field = f.style == FieldStyle::ImageSize ? o.get_image_size(f.name) : o.get_int(f.name, f.ints);
        } else if constexpr (std::is_same_v<T, unsigned>) {
          field = static_cast<unsigned>(o.get_int(f.name, f.ints));
        } else if constexpr (std::is_same_v<T, LossMode>) {
          field = parse_loss_mode(o.get(f.name));
        } else if constexpr (std::is_same_v<T, Sampling>) {
          field = parse_sampling(o.get(f.name));
        } else if (f.style == FieldStyle::AutoFlag) {
          const std::optional<bool> v = o.get_flag_or_auto(f.name);
          field = !v ? "auto" : *v ? "true" : "false";
        } else {
          field = o.get(f.name);
          if (!f.choices.empty() && std::find(f.choices.begin(), f.choices.end(), field) == f.choices.end())
            SGML_FAIL(o.describe(f.name), " must be ", alternatives(f.choices), ", got '", field, "'");
        }
      },
      f.member);
}

const ConfigField& option_field(const std::string& name) {
  const ConfigField* f = find_config_field(name);
  SGML_CHECK(f && f->option, "no training option named '", name, "'");  // a mistake of ours
  return *f;
}

// Every row that is a command-line option, in the table's order.
const std::vector<std::string>& train_option_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const ConfigField& f : config_fields())
      if (f.option) v.push_back(f.name);
    return v;
  }();
  return names;
}

}  // namespace

std::vector<std::string> unused_option_notes(const Options& o, const TrainConfig& c) {
  std::vector<std::string> notes;
  for (const OptionUse& use : option_uses())
    if (o.given_on_command_line(use.option) && !use.used(c))
      notes.push_back(str_cat("note: --", use.option, " changes nothing in this run: it is used only with ",
                              use.needs));
  return notes;
}

std::string eval_resize_note(const Options& o, const TrainConfig& c) {
  const int default_size = TrainConfig{}.image_size;
  if (c.eval_resize == 0 || c.image_size == default_size || !o.given_on_command_line("image-size") ||
      o.given_on_command_line("eval-resize"))
    return "";
  const long same_ratio = std::lround(double(c.eval_resize) * c.image_size / default_size);
  return str_cat("note: --eval-resize ", c.eval_resize, " is in pixels, not scaled with --image-size ", c.image_size,
                 ": the evaluation keeps the centre ", c.image_size, " x ", c.image_size, " of the image resized to ",
                 c.eval_resize, "; --eval-resize ", std::max<long>(same_ratio, c.image_size),
                 " keeps its ratio to the default ", default_size, " px");
}

void declare_config_options(Options& o, const std::vector<std::string>& names) {
  for (const std::string& name : names) declare_field(o, option_field(name));
}

void read_config_options(const Options& o, TrainConfig& c, const std::vector<std::string>& names) {
  for (const std::string& name : names) read_field(o, option_field(name), c);
}

void declare_train_options(Options& o) {
  declare_config_options(o, train_option_names());
  o.allow_config_file();
}

TrainConfig train_config_from_options(const Options& o) {
  TrainConfig c;
  read_config_options(o, c, train_option_names());
  // The device's spelling now, naming where it was set (the trainer opens the device after the dataset is read).
  if (c.device != "cpu" && c.device != "auto") {
    try {
      parse_cuda_index(c.device);
    } catch (const Error& e) {
      SGML_FAIL(o.describe("device"), ": ", e.what());
    }
  }
  check_train_config(c);
  return c;
}

TrainConfig dataset_config_defaults(const std::string& dataset) {
  Options o("train", "", "");
  declare_train_options(o);
  const std::string path = project_path("configs/" + dataset + ".json");
  if (std::filesystem::exists(path)) o.apply_defaults_file(path);
  TrainConfig c;
  read_config_options(o, c, train_option_names());
  c.dataset = dataset;
  return c;
}

}  // namespace sgml
