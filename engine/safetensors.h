// Reading and writing .safetensors files (8-byte little-endian header length, JSON header, raw data).
// Tensors come back on the CPU. F32, I64 and I32 load as they are; F16 and BF16 are widened to F32.
// Every malformed file is an sgml::Error naming the file and what is wrong; saving is atomic (temp + rename).
#pragma once
#include <map>
#include <string>

#include "engine/tensor.h"

namespace sgml {

using TensorMap = std::map<std::string, Tensor>;
using Metadata = std::map<std::string, std::string>;

TensorMap load_safetensors(const std::string& path, Metadata* metadata = nullptr);
void save_safetensors(const std::string& path, const TensorMap& tensors, const Metadata& metadata = {});

// Writes `bytes` to `path` atomically: a temporary file beside it, flushed, then renamed over `path`.
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace sgml
