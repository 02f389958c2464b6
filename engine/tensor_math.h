// The tensor arithmetic the tape itself needs (gradient accumulation at fan-in) and the losses use to weight a
// gradient: a + b, a += b, a *= alpha. It lives in engine so that the tape does not reach up into layers;
// layers/elementwise.h builds the activation ops on top of it.
#pragma once
#include <cstdint>

#include "engine/tensor.h"

namespace sgml {

Tensor add(const Tensor& a, const Tensor& b);  // a + b, same shape
void add_inplace(Tensor& a, const Tensor& b);  // a += b (gradient accumulation at fan-in)
void scale_inplace(Tensor& a, float alpha);    // a *= alpha

// The check of every elementwise op on two tensors: both defined, one shape, one device. Throws naming `op`.
void check_elementwise_pair(const Tensor& a, const Tensor& b, const char* op);

// Twins over n elements (engine/dispatch.h describes the convention).
namespace cpu {
void add(float* y, const float* a, const float* b, int64_t n);
void add_inplace(float* a, const float* b, int64_t n);
void scale_inplace(float* a, float alpha, int64_t n);
}  // namespace cpu
namespace cuda {
void add(float* y, const float* a, const float* b, int64_t n);
void add_inplace(float* a, const float* b, int64_t n);
void scale_inplace(float* a, float alpha, int64_t n);
}  // namespace cuda

}  // namespace sgml
