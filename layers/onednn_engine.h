// What the CPU convolutions on oneDNN share (layers/conv2d_cpu.cpp, layers/conv_bn_inference_cpu.cpp).
#pragma once
#include <dnnl.hpp>
#include <string>

#include "layers/conv2d.h"

namespace sgml::cpu {

dnnl::engine& onednn_engine();  // made at first use, never destroyed (used at exit)
// "conv2d x(N,C,H,W) w(K,C,R,S) stride S pad P", for errors.
std::string conv_geometry_text(const Conv2dGeometry& g);

}  // namespace sgml::cpu
