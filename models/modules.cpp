#include "models/modules.h"

#include <cmath>

namespace sgml {

Conv2d::Conv2d(ParameterStore& store, const std::string& prefix, int in, int out, int kernel, int stride_, int pad_,
               std::mt19937& rng)
    : stride(stride_), pad(pad_) {
  Tensor w = Tensor::empty({out, in, kernel, kernel});
  std::normal_distribution<float> dist(0.0f, std::sqrt(2.0f / float(out * kernel * kernel)));
  float* p = w.data();
  for (int64_t i = 0; i < w.numel(); ++i) p[i] = dist(rng);
  weight = store.add_parameter(prefix + "weight", w);
}

BatchNorm2d::BatchNorm2d(ParameterStore& store, const std::string& prefix, int channels) {
  weight = store.add_parameter(prefix + "weight", Tensor::full({channels}, 1.0f));
  bias = store.add_parameter(prefix + "bias", Tensor::zeros({channels}));
  buffers.running_mean = Tensor::zeros({channels});
  buffers.running_var = Tensor::full({channels}, 1.0f);
  buffers.num_batches_tracked = Tensor::zeros({}, Device::cpu(), DType::I64);
  store.add_buffer(prefix + "running_mean", &buffers.running_mean);
  store.add_buffer(prefix + "running_var", &buffers.running_var);
  store.add_buffer(prefix + "num_batches_tracked", &buffers.num_batches_tracked);
}

Linear::Linear(ParameterStore& store, const std::string& prefix, int in, int out, std::mt19937& rng) {
  weight = store.add_parameter(prefix + "weight", Tensor::empty({out, in}));
  bias = store.add_parameter(prefix + "bias", Tensor::empty({out}));
  reset(rng);
}

void Linear::reset(std::mt19937& rng) {
  const float bound = 1.0f / std::sqrt(float(weight.value().dim(1)));
  std::uniform_real_distribution<float> dist(-bound, bound);
  for (Variable* v : {&weight, &bias}) {
    Tensor host = Tensor::empty(v->value().shape());
    float* p = host.data();
    for (int64_t i = 0; i < host.numel(); ++i) p[i] = dist(rng);
    v->value().copy_from(host);
  }
}

}  // namespace sgml
