#include "layers/conv_bn_inference.h"

#include <cmath>

#include "engine/check.h"

namespace sgml {

namespace {

// Batch norm in inference as a per-channel affine map, folded in double: scale = gamma / sqrt(var + eps),
// shift = beta - mean * scale.
cpu::FoldedConvStage fold(const ConvBnStage& st, const Shape& x_shape) {
  for (const Tensor* t : {st.weight, st.gamma, st.beta, st.running_mean, st.running_var}) {
    check_defined(*t, "conv_bn_chain_inference");
    SGML_CHECK(t->device().is_cpu() && t->dtype() == DType::F32, "conv_bn_chain_inference runs on float32 CPU "
               "tensors, got ", t->str());
  }
  cpu::FoldedConvStage f;
  f.w = st.weight->data();
  f.g = conv2d_geometry(x_shape, st.weight->shape(), st.stride, st.pad);
  const Shape channels{st.weight->dim(0)};
  check_shape(*st.gamma, channels, "batch norm weight");
  check_shape(*st.beta, channels, "batch norm bias");
  check_shape(*st.running_mean, channels, "batch norm running_mean");
  check_shape(*st.running_var, channels, "batch norm running_var");
  const int64_t k = channels[0];
  f.scale.resize(size_t(k));
  f.shift.resize(size_t(k));
  for (int64_t c = 0; c < k; ++c) {
    const double s = double(st.gamma->data()[c]) / std::sqrt(double(st.running_var->data()[c]) + double(st.eps));
    f.scale[size_t(c)] = float(s);
    f.shift[size_t(c)] = float(double(st.beta->data()[c]) - double(st.running_mean->data()[c]) * s);
  }
  return f;
}

}  // namespace

Tensor conv_bn_chain_inference(const Tensor& x, const std::vector<ConvBnStage>& chain, Shortcut shortcut,
                               const ConvBnStage* downsample) {
  OpScope op("conv_bn_chain_inference");
  check_defined(x, "conv_bn_chain_inference x");
  SGML_CHECK(x.device().is_cpu() && x.dtype() == DType::F32, "conv_bn_chain_inference runs on float32 CPU tensors, "
             "got ", x.str());
  SGML_CHECK(!chain.empty(), "conv_bn_chain_inference needs at least one convolution");
  std::vector<cpu::FoldedConvStage> folded;
  Shape shape = x.shape();
  for (const ConvBnStage& st : chain) {
    folded.push_back(fold(st, shape));
    const Conv2dGeometry& g = folded.back().g;
    shape = {g.n, g.k, g.p(), g.q()};
  }
  cpu::FoldedConvStage down;
  if (shortcut == Shortcut::Downsample) {
    SGML_CHECK(downsample != nullptr, "conv_bn_chain_inference: a downsample shortcut without its convolution");
    down = fold(*downsample, x.shape());
    const Shape down_shape{down.g.n, down.g.k, down.g.p(), down.g.q()};
    SGML_CHECK(down_shape == shape, "conv_bn_chain_inference: the downsample gives ", shape_str(down_shape),
               ", the chain ", shape_str(shape));
  } else if (shortcut == Shortcut::Identity) {
    SGML_CHECK(x.shape() == shape, "conv_bn_chain_inference: an identity shortcut needs the chain to keep the shape ",
               shape_str(x.shape()), ", it gives ", shape_str(shape));
  }
  Tensor y = Tensor::empty(shape, x.device());
  cpu::conv_bn_chain_inference(y.data(), x.data(), folded, shortcut, shortcut == Shortcut::Downsample ? &down : nullptr);
  return y;
}

}  // namespace sgml
