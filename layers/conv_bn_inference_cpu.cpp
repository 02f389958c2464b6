// The CPU twin of conv_bn_chain_inference (layers/conv_bn_inference.h) on oneDNN: per stage one inference
// convolution with a bias (the folded shift) and post-ops (sum of the shortcut, ReLU); weights are reordered into the
// primitive's layout with the folded scale as the reorder's per-output-channel scale; activations stay in the
// primitives' layouts between the stages, and (resnet_inference) between the chains and through the pooling.
#include <dnnl.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "engine/check.h"
#include "layers/conv_bn_inference.h"
#include "layers/onednn_engine.h"

namespace sgml::cpu {

namespace {

using dnnl::memory;
using Tag = memory::format_tag;

struct StagePlan {
  memory::desc w_plain, bias;
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward conv;
};

// Inference convolution with bias and the post-ops: ReLU, or the sum of what dst holds (the shortcut) then ReLU, or
// nothing (a downsample, whose batch norm has no ReLU after it).
enum class PostOps { Relu, SumRelu, None };

StagePlan make_stage_plan(const Conv2dGeometry& g, PostOps post) {
  const memory::dims x_dims{g.n, g.c, g.h, g.w}, w_dims{g.k, g.c, g.r, g.s}, y_dims{g.n, g.k, g.p(), g.q()};
  const memory::dims strides{g.stride, g.stride}, padding{g.pad, g.pad};
  const auto f32 = memory::data_type::f32;
  StagePlan p;
  p.w_plain = memory::desc(w_dims, f32, Tag::oihw);
  p.bias = memory::desc({g.k}, f32, Tag::x);
  dnnl::post_ops ops;
  if (post == PostOps::SumRelu) ops.append_sum(1.0f);
  if (post != PostOps::None) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  // Activations in channel blocks (16 for AVX-512 kernels, 8 for AVX2 ones) where the channels allow: left to itself
  // ("any") oneDNN picks channels-last (nhwc) kernels for inference, whose reorders from and to NCHW cost several
  // times more (measured on ResNet-101 extraction). The first blocking with a JIT kernel is taken (a blocking the
  // machine has no kernel for gets the reference one, "ref:any"); "any" if neither has.
  auto make_pd = [&](Tag block) {
    auto activation = [&](const memory::dims& dims) {
      const int64_t width = block == Tag::nChw16c ? 16 : block == Tag::nChw8c ? 8 : 1;
      return memory::desc(dims, f32, dims[1] % width == 0 ? block : Tag::any);
    };
    return dnnl::convolution_forward::primitive_desc(
        dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                        activation(x_dims), memory::desc(w_dims, f32, Tag::any), p.bias,
                                        activation(y_dims), strides, padding, padding),
        attr, onednn_engine());
  };
  for (Tag block : {Tag::nChw16c, Tag::nChw8c}) {
    try {
      p.pd = make_pd(block);
      if (std::string(p.pd.impl_info_str()).rfind("ref", 0) != 0) break;
    } catch (const dnnl::error&) {  // no implementation at all for this blocking: try the next
    }
    p.pd = {};
  }
  if (!p.pd) p.pd = make_pd(Tag::any);
  p.conv = dnnl::convolution_forward(p.pd);
  return p;
}

// Made at first use and kept, as the training primitives are (layers/conv2d_cpu.cpp).
const StagePlan& stage_plan(const Conv2dGeometry& g, PostOps post) {
  using Key = std::tuple<int, int, int, int, int, int, int, int, int, int>;
  static std::mutex mutex;
  static auto* plans = new std::map<Key, std::unique_ptr<StagePlan>>();  // never destroyed: used at exit
  const Key key{g.n, g.c, g.h, g.w, g.k, g.r, g.s, g.stride, g.pad, int(post)};
  std::lock_guard<std::mutex> lock(mutex);
  auto it = plans->find(key);
  if (it != plans->end()) return *it->second;
  return *plans->emplace(key, std::make_unique<StagePlan>(make_stage_plan(g, post))).first->second;
}

// `m` in layout `wanted`: itself when it already is, else a reordered copy.
memory in_layout(const memory::desc& wanted, const memory& m, dnnl::stream& s) {
  if (wanted == m.get_desc()) return m;
  memory out(wanted, onednn_engine());
  dnnl::reorder(m, out).execute(s, const_cast<memory&>(m), out);
  return out;
}

// Runs one stage on `src` (in the primitive's source layout) into `dst` (which holds the shortcut for SumRelu).
void run_stage(const StagePlan& p, const FoldedConvStage& st, const memory& src, memory& dst, dnnl::stream& s) {
  // The folded scale applied while the weights are reordered into the primitive's layout (mask 1: per output channel).
  memory w_user(p.w_plain, onednn_engine(), const_cast<float*>(st.w));
  memory w(p.pd.weights_desc(), onednn_engine());
  dnnl::primitive_attr scaled;
  scaled.set_output_scales(1, st.scale);
  dnnl::reorder(dnnl::reorder::primitive_desc(onednn_engine(), p.w_plain, onednn_engine(), p.pd.weights_desc(), scaled))
      .execute(s, w_user, w);
  memory bias(p.bias, onednn_engine(), const_cast<float*>(st.shift.data()));
  p.conv.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, dst}});
}

// The chain on x (any layout) into a new memory in the last stage's layout, or into *y when that is its layout.
// x_writable: x is ours to overwrite (a previous chain's output), so the identity shortcut can be summed into it.
memory run_chain(const memory& x, bool x_writable, const std::vector<FoldedConvStage>& chain, Shortcut shortcut,
                 const FoldedConvStage* downsample, dnnl::stream& s, const memory* y = nullptr) {
  // x in the first stage's layout: reordered once (unless it is in it), then also the downsample's source and, once
  // the first stage has read it, the buffer the last stage adds its output to (the identity shortcut).
  const StagePlan& first_plan = stage_plan(chain.front().g, chain.size() == 1 && shortcut != Shortcut::None
                                                                ? PostOps::SumRelu : PostOps::Relu);
  memory x_blocked = in_layout(first_plan.pd.src_desc(), x, s);
  const bool x_blocked_writable = x_writable || x_blocked.get_data_handle() != x.get_data_handle();
  memory h = x_blocked;
  for (size_t i = 0; i < chain.size(); ++i) {
    const bool is_last = i + 1 == chain.size();
    const PostOps post = is_last && shortcut != Shortcut::None ? PostOps::SumRelu : PostOps::Relu;
    const StagePlan& p = stage_plan(chain[i].g, post);
    const memory src = in_layout(p.pd.src_desc(), h, s);
    memory out;
    if (post == PostOps::SumRelu && shortcut == Shortcut::Identity && i > 0 && x_blocked_writable &&
        x_blocked.get_desc() == p.pd.dst_desc()) {
      out = x_blocked;  // x itself, in the output's layout already: the sum post-op adds to it in place
    } else if (is_last && y && p.pd.dst_desc() == y->get_desc()) {
      out = *y;  // the caller's layout already: written in its buffer
    } else {
      out = memory(p.pd.dst_desc(), onednn_engine());
    }
    if (post == PostOps::SumRelu && out.get_data_handle() != x_blocked.get_data_handle()) {
      // The shortcut, in the output's layout, for the sum post-op to add to.
      if (shortcut == Shortcut::Identity) {
        memory from = x_blocked;
        dnnl::reorder(from, out).execute(s, from, out);
      } else {
        const StagePlan& d = stage_plan(downsample->g, PostOps::None);
        const memory d_src = in_layout(d.pd.src_desc(), x_blocked, s);
        if (d.pd.dst_desc() == out.get_desc()) {
          run_stage(d, *downsample, d_src, out, s);
        } else {
          memory shortcut_out(d.pd.dst_desc(), onednn_engine());
          run_stage(d, *downsample, d_src, shortcut_out, s);
          dnnl::reorder(shortcut_out, out).execute(s, shortcut_out, out);
        }
      }
    }
    run_stage(p, chain[i], src, out, s);
    h = out;
  }
  return h;
}

// Pooling of x in its own layout (the result in the same one); padding is never part of a window's result (max:
// as -inf; average: excluded), as PyTorch's MaxPool2d and the global average pool.
memory pool(const memory& x, dnnl::algorithm kind, int64_t kernel_h, int64_t kernel_w, int64_t stride, int64_t pad,
            dnnl::stream& s, const memory* y = nullptr) {
  const memory::dims d = x.get_desc().dims();
  const int64_t p = (d[2] + 2 * pad - kernel_h) / stride + 1, q = (d[3] + 2 * pad - kernel_w) / stride + 1;
  const memory::desc dst = y ? y->get_desc() : memory::desc({d[0], d[1], p, q}, memory::data_type::f32, Tag::any);
  const dnnl::pooling_forward::primitive_desc pd(
      dnnl::pooling_forward::desc(dnnl::prop_kind::forward_inference, kind, x.get_desc(), dst, {stride, stride},
                                  {kernel_h, kernel_w}, {pad, pad}, {pad, pad}),
      onednn_engine());
  memory out = y ? *y : memory(pd.dst_desc(), onednn_engine());
  dnnl::pooling_forward(pd).execute(s, {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, out}});
  return out;
}

}  // namespace

void conv_bn_chain_inference(float* y, const float* x, const std::vector<FoldedConvStage>& chain, Shortcut shortcut,
                             const FoldedConvStage* downsample) {
  const auto f32 = memory::data_type::f32;
  const Conv2dGeometry& first = chain.front().g;
  const Conv2dGeometry& last = chain.back().g;
  try {
    dnnl::stream s(onednn_engine());
    memory x_user(memory::desc({first.n, first.c, first.h, first.w}, f32, Tag::nchw), onednn_engine(),
                  const_cast<float*>(x));
    memory y_user(memory::desc({last.n, last.k, last.p(), last.q()}, f32, Tag::nchw), onednn_engine(), y);
    const memory h = run_chain(x_user, /*x_writable=*/false, chain, shortcut, downsample, s, &y_user);
    if (h.get_data_handle() != y_user.get_data_handle())
      dnnl::reorder(h, y_user).execute(s, const_cast<memory&>(h), y_user);
    s.wait();
  } catch (const dnnl::error& e) {
    SGML_FAIL("conv_bn_chain_inference from ", conv_geometry_text(first), ": oneDNN failed (", e.what(), ", status ",
              int(e.status), ")");
  }
}

void resnet_inference(float* y, const float* x, const FoldedConvStage& stem, const std::vector<FoldedBlock>& blocks) {
  const auto f32 = memory::data_type::f32;
  const Conv2dGeometry& g = stem.g;
  try {
    dnnl::stream s(onednn_engine());
    memory x_user(memory::desc({g.n, g.c, g.h, g.w}, f32, Tag::nchw), onednn_engine(), const_cast<float*>(x));
    memory h = run_chain(x_user, /*x_writable=*/false, {stem}, Shortcut::None, nullptr, s);
    h = pool(h, dnnl::algorithm::pooling_max, 3, 3, 2, 1, s);
    for (const FoldedBlock& b : blocks)
      h = run_chain(h, /*x_writable=*/true, b.chain, b.shortcut, b.shortcut == Shortcut::Downsample ? &b.downsample
                                                                                                    : nullptr, s);
    const memory::dims d = h.get_desc().dims();
    memory y_user(memory::desc({d[0], d[1], 1, 1}, f32, Tag::nchw), onednn_engine(), y);
    pool(h, dnnl::algorithm::pooling_avg_exclude_padding, d[2], d[3], 1, 0, s, &y_user);
    s.wait();
  } catch (const dnnl::error& e) {
    SGML_FAIL("resnet_inference from ", conv_geometry_text(g), ": oneDNN failed (", e.what(), ", status ",
              int(e.status), ")");
  }
}

}  // namespace sgml::cpu
