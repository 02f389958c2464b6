// Reading and writing .safetensors files (8-byte little-endian header length, JSON header, raw data).
// Tensors come back on the CPU. F32, I64 and I32 load as they are; F16 and BF16 are widened to F32.
// Every malformed file is an sgml::Error naming the file and what is wrong; saving is atomic (temp + rename).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace sgml {

using TensorMap = std::map<std::string, Tensor>;
using Metadata = std::map<std::string, std::string>;

// Reads every tensor. The file is validated as the format requires before anything is allocated: header a JSON
// object without duplicate keys, shapes whose sizes fit in 64 bits, offsets that tile the data section exactly
// (no overlap, no hole, no trailing bytes), __metadata__ a map of strings. Errors name the file and the entry.
TensorMap load_safetensors(const std::string& path, Metadata* metadata = nullptr);
// For model parameters and optimiser state: an sgml::Error naming the file, each float tensor holding NaN or
// infinity and how many such values it holds.
void check_all_finite(const TensorMap& tensors, const std::string& path);
// load_safetensors + check_all_finite: the one way weights and checkpoints are read (embed --weights, eval
// --checkpoint, train --weights/--init/--resume).
TensorMap load_weights_file(const std::string& path, Metadata* metadata = nullptr);
void save_safetensors(const std::string& path, const TensorMap& tensors, const Metadata& metadata = {});

// Writes `bytes` to `path` atomically: a temporary file beside it, flushed, then renamed over `path`. First removes
// the stale temporaries of `path` (remove_stale_temporaries).
void write_file_atomically(const std::string& path, const std::string& bytes);
// Removes the temporaries of `path` that an interrupted write_file_atomically left (PATH.tmp.<pid> whose process is
// gone, e.g. after kill -9); nothing else is touched. Returns the files removed.
std::vector<std::string> remove_stale_temporaries(const std::string& path);

}  // namespace sgml
