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

// The chain folded for an input of x_shape, its shapes checked; its output's shape in *out.
cpu::FoldedBlock fold_block(const Shape& x_shape, const std::vector<ConvBnStage>& chain, Shortcut shortcut,
                            const ConvBnStage* downsample, Shape* out) {
  SGML_CHECK(!chain.empty(), "conv_bn_chain_inference needs at least one convolution");
  cpu::FoldedBlock b;
  b.shortcut = shortcut;
  Shape shape = x_shape;
  for (const ConvBnStage& st : chain) {
    b.chain.push_back(fold(st, shape));
    const Conv2dGeometry& g = b.chain.back().g;
    shape = {g.n, g.k, g.p(), g.q()};
  }
  if (shortcut == Shortcut::Downsample) {
    SGML_CHECK(downsample != nullptr, "conv_bn_chain_inference: a downsample shortcut without its convolution");
    b.downsample = fold(*downsample, x_shape);
    const Shape down_shape{b.downsample.g.n, b.downsample.g.k, b.downsample.g.p(), b.downsample.g.q()};
    SGML_CHECK(down_shape == shape, "conv_bn_chain_inference: the downsample gives ", shape_str(down_shape),
               ", the chain ", shape_str(shape));
  } else if (shortcut == Shortcut::Identity) {
    SGML_CHECK(x_shape == shape, "conv_bn_chain_inference: an identity shortcut needs the chain to keep the shape ",
               shape_str(x_shape), ", it gives ", shape_str(shape));
  }
  *out = shape;
  return b;
}

void check_cpu_input(const Tensor& x, const char* what) {
  check_defined(x, what);
  SGML_CHECK(x.device().is_cpu() && x.dtype() == DType::F32, what, " runs on float32 CPU tensors, got ", x.str());
}

}  // namespace

Tensor conv_bn_chain_inference(const Tensor& x, const std::vector<ConvBnStage>& chain, Shortcut shortcut,
                               const ConvBnStage* downsample) {
  OpScope op("conv_bn_chain_inference");
  check_cpu_input(x, "conv_bn_chain_inference");
  Shape shape;
  const cpu::FoldedBlock b = fold_block(x.shape(), chain, shortcut, downsample, &shape);
  Tensor y = Tensor::empty(shape, x.device());
  cpu::conv_bn_chain_inference(y.data(), x.data(), b.chain, shortcut,
                               shortcut == Shortcut::Downsample ? &b.downsample : nullptr);
  return y;
}

Tensor resnet_inference(const Tensor& x, const ConvBnStage& stem, const std::vector<ConvBnBlock>& blocks) {
  OpScope op("resnet_inference");
  check_cpu_input(x, "resnet_inference");
  SGML_CHECK(x.ndim() == 4, "resnet_inference expects images (N,C,H,W), got ", shape_str(x.shape()));
  Shape shape;
  const cpu::FoldedBlock folded_stem = fold_block(x.shape(), {stem}, Shortcut::None, nullptr, &shape);
  // The max pool 3x3, stride 2, padding 1.
  shape = {shape[0], shape[1], (shape[2] - 1) / 2 + 1, (shape[3] - 1) / 2 + 1};
  std::vector<cpu::FoldedBlock> folded;
  for (const ConvBnBlock& b : blocks)
    folded.push_back(fold_block(shape, b.chain, b.shortcut, &b.downsample, &shape));
  Tensor y = Tensor::empty({shape[0], shape[1]}, x.device());
  cpu::resnet_inference(y.data(), x.data(), folded_stem.chain.front(), folded);
  return y;
}

}  // namespace sgml
