// Writing and reading NumPy .npy files (float32, C order), for exported features.
#pragma once
#include <string>

#include "engine/tensor.h"

namespace sgml {

// Writes a float32 tensor (any device) as a version 1.0 .npy file, atomically.
void save_npy(const std::string& path, const Tensor& tensor);
// Reads a float32 little-endian C-order .npy file; errors name the file and what is unsupported.
Tensor load_npy(const std::string& path);

}  // namespace sgml
