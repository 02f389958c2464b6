// RAII owners of the cuDNN descriptors of the convolutions: the legacy convolution API, which cuDNN 9 still
// documents. Each descriptor lives on the stack of one call; neither copyable nor movable, so none is destroyed
// twice. Included only by CUDA sources. The destroy calls run in destructors and in failed constructors, where
// nothing can be thrown: their status is deliberately ignored (destroying a descriptor that was created does not
// fail).
#pragma once
#include <cudnn.h>

#include "engine/cuda_check.h"

namespace sgml {

// A dense float NCHW tensor (n, c, h, w).
class CudnnTensorDescriptor {
 public:
  CudnnTensorDescriptor(int n, int c, int h, int w) {
    SGML_CUDNN_CHECK(cudnnCreateTensorDescriptor(&desc_));
    try {
      SGML_CUDNN_CHECK(cudnnSetTensor4dDescriptor(desc_, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, w));
    } catch (...) {  // the destructor does not run for a constructor that throws
      (void)cudnnDestroyTensorDescriptor(desc_);
      throw;
    }
  }
  ~CudnnTensorDescriptor() { (void)cudnnDestroyTensorDescriptor(desc_); }
  CudnnTensorDescriptor(const CudnnTensorDescriptor&) = delete;
  CudnnTensorDescriptor& operator=(const CudnnTensorDescriptor&) = delete;
  cudnnTensorDescriptor_t get() const { return desc_; }

 private:
  cudnnTensorDescriptor_t desc_ = nullptr;
};

// A float filter (k, c, r, s), stored KCRS like the engine's weights.
class CudnnFilterDescriptor {
 public:
  CudnnFilterDescriptor(int k, int c, int r, int s) {
    SGML_CUDNN_CHECK(cudnnCreateFilterDescriptor(&desc_));
    try {
      SGML_CUDNN_CHECK(cudnnSetFilter4dDescriptor(desc_, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, k, c, r, s));
    } catch (...) {
      (void)cudnnDestroyFilterDescriptor(desc_);
      throw;
    }
  }
  ~CudnnFilterDescriptor() { (void)cudnnDestroyFilterDescriptor(desc_); }
  CudnnFilterDescriptor(const CudnnFilterDescriptor&) = delete;
  CudnnFilterDescriptor& operator=(const CudnnFilterDescriptor&) = delete;
  cudnnFilterDescriptor_t get() const { return desc_; }

 private:
  cudnnFilterDescriptor_t desc_ = nullptr;
};

// A 2-D cross-correlation (what PyTorch calls convolution) with square stride and padding, no dilation, float
// accumulation, and the math type given: CUDNN_FMA_MATH is strict fp32 (never TF32 tensor cores), CUDNN_DEFAULT_MATH
// lets cuDNN use TF32 tensor cores on Ampere and later. An algorithm must run with the math type it was chosen for.
class CudnnConvolutionDescriptor {
 public:
  CudnnConvolutionDescriptor(int pad, int stride, cudnnMathType_t math) {
    SGML_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&desc_));
    try {
      SGML_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(desc_, pad, pad, stride, stride, 1, 1,
                                                       CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
      SGML_CUDNN_CHECK(cudnnSetConvolutionMathType(desc_, math));
    } catch (...) {
      (void)cudnnDestroyConvolutionDescriptor(desc_);
      throw;
    }
  }
  ~CudnnConvolutionDescriptor() { (void)cudnnDestroyConvolutionDescriptor(desc_); }
  CudnnConvolutionDescriptor(const CudnnConvolutionDescriptor&) = delete;
  CudnnConvolutionDescriptor& operator=(const CudnnConvolutionDescriptor&) = delete;
  cudnnConvolutionDescriptor_t get() const { return desc_; }
  void set_math(cudnnMathType_t math) { SGML_CUDNN_CHECK(cudnnSetConvolutionMathType(desc_, math)); }

 private:
  cudnnConvolutionDescriptor_t desc_ = nullptr;
};

}  // namespace sgml
