// Helpers shared by the tests: random tensors, error norms, scratch folders and the PyTorch reference scripts.
#pragma once
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace sgml::test {

std::string source_dir();   // the repository root
std::string scratch_dir(const std::string& name);  // a fresh, empty folder under the build tree

// The interpreter with torch: $SGML_PYTHON, else /usr/bin/python3.
std::string reference_python();
// Runs `python tests/reference/SCRIPT ARGS...`; throws with the script's output when it fails.
void run_reference(const std::string& script, const std::vector<std::string>& args);
// Runs a shell command and returns its exit status; its stdout+stderr go to *output when given.
int run_command(const std::string& command, std::string* output = nullptr);

// Uniform values in [lo, hi), reproducible from the seed.
Tensor random_tensor(const Shape& shape, unsigned seed, float lo = -1.0f, float hi = 1.0f);
// ||a - b|| / max(||b||, 1e-12) over all elements (host copies are taken as needed).
double relative_error(const Tensor& a, const Tensor& b);
double relative_error(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace sgml::test
