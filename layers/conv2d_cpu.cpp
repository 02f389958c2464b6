// CPU convolution through oneDNN, the CPU primitive library PyTorch's CPU path uses, as cuDNN serves the GPU side.
// Every operand takes the layout oneDNN chooses for the geometry ("any": channels in blocks of 8 or 16), reordered
// from and to our NCHW tensors around each call, as PyTorch does. Measured on the demo's step (ResNet-18 at 64 px,
// batch 32, 2-core EPYC, quiet): oneDNN then runs its direct JIT kernels (jit:avx512_core here) instead of the
// im2col GEMM it uses on plain NCHW, and the step took 0.57x the time even with the reorders (about a sixth of the
// convolutions' time). The primitives of a geometry are made once and cached (creating one JIT-compiles its kernel).
#include <dnnl.hpp>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "engine/check.h"
#include "layers/conv2d.h"
#include "layers/onednn_engine.h"

namespace sgml::cpu {

dnnl::engine& onednn_engine() {
  static dnnl::engine* e = new dnnl::engine(dnnl::engine::kind::cpu, 0);  // never destroyed: used at exit
  return *e;
}

std::string conv_geometry_text(const Conv2dGeometry& g) {
  return str_cat("conv2d x(", g.n, ",", g.c, ",", g.h, ",", g.w, ") w(", g.k, ",", g.c, ",", g.r, ",", g.s,
                 ") stride ", g.stride, " pad ", g.pad);
}

namespace {

using dnnl::memory;
using Tag = memory::format_tag;

// The three primitives of one geometry (forward training, backward data, backward weights) and the plain
// layouts of our tensors.
struct ConvPlan {
  memory::desc x_plain, w_plain, y_plain;
  dnnl::convolution_forward::primitive_desc forward_pd;
  dnnl::convolution_backward_data::primitive_desc backward_data_pd;
  dnnl::convolution_backward_weights::primitive_desc backward_weights_pd;
  dnnl::convolution_forward forward;
  dnnl::convolution_backward_data backward_data;
  dnnl::convolution_backward_weights backward_weights;
};

ConvPlan make_plan(const Conv2dGeometry& g) {
  const memory::dims x_dims{g.n, g.c, g.h, g.w}, w_dims{g.k, g.c, g.r, g.s}, y_dims{g.n, g.k, g.p(), g.q()};
  const memory::dims strides{g.stride, g.stride}, padding{g.pad, g.pad};
  const auto f32 = memory::data_type::f32;
  // Every layout left to oneDNN ("any").
  const memory::desc x_any(x_dims, f32, Tag::any), w_any(w_dims, f32, Tag::any), y_any(y_dims, f32, Tag::any);
  ConvPlan p;
  p.x_plain = memory::desc(x_dims, f32, Tag::nchw);
  p.w_plain = memory::desc(w_dims, f32, Tag::oihw);
  p.y_plain = memory::desc(y_dims, f32, Tag::nchw);
  // PyTorch's convolution: zero padding `pad` on both sides; the output size is our p(), q() (oneDNN checks it).
  p.forward_pd = dnnl::convolution_forward::primitive_desc(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, x_any,
                                      w_any, y_any, strides, padding, padding),
      onednn_engine());
  p.backward_data_pd = dnnl::convolution_backward_data::primitive_desc(
      dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, x_any, w_any, y_any, strides,
                                            padding, padding),
      onednn_engine(), p.forward_pd);
  p.backward_weights_pd = dnnl::convolution_backward_weights::primitive_desc(
      dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, x_any, w_any, y_any, strides,
                                               padding, padding),
      onednn_engine(), p.forward_pd);
  p.forward = dnnl::convolution_forward(p.forward_pd);
  p.backward_data = dnnl::convolution_backward_data(p.backward_data_pd);
  p.backward_weights = dnnl::convolution_backward_weights(p.backward_weights_pd);
  return p;
}

// The plan of a geometry, made at its first use. Plans are never evicted: a model has a few dozen geometries.
const ConvPlan& plan_for(const Conv2dGeometry& g) {
  using Key = std::tuple<int, int, int, int, int, int, int, int, int>;
  static std::mutex mutex;
  static auto* plans = new std::map<Key, std::unique_ptr<ConvPlan>>();  // never destroyed: used at exit
  const Key key{g.n, g.c, g.h, g.w, g.k, g.r, g.s, g.stride, g.pad};
  std::lock_guard<std::mutex> lock(mutex);
  auto it = plans->find(key);
  if (it != plans->end()) return *it->second;
  try {
    return *plans->emplace(key, std::make_unique<ConvPlan>(make_plan(g))).first->second;
  } catch (const dnnl::error& e) {
    SGML_FAIL(conv_geometry_text(g), ": oneDNN could not create the convolution (", e.what(), ", status ",
              int(e.status), ")");
  }
}

// An operand in the primitive's layout: the caller's buffer itself when the layouts agree, else a copy (reorder) of
// it in a buffer oneDNN allocates.
memory as_layout(const memory::desc& wanted, memory plain, dnnl::stream& s) {
  if (wanted == plain.get_desc()) return plain;
  memory m(wanted, onednn_engine());
  dnnl::reorder(plain, m).execute(s, plain, m);
  return m;
}

// Runs `compute` (which writes `out`, a buffer in the primitive's layout `out_desc`) and copies the result to the
// caller's plain buffer when the layouts differ. With accumulate, the result is added to the plain buffer's values
// instead: by the reorder itself (its sum post-op), so the sum costs no pass of its own.
template <class Compute>
void into_plain(const memory::desc& out_desc, memory& plain_out, bool accumulate, dnnl::stream& s, Compute compute) {
  if (!accumulate && out_desc == plain_out.get_desc()) {
    compute(plain_out);
    return;
  }
  memory out(out_desc, onednn_engine());
  compute(out);
  dnnl::primitive_attr attr;
  if (accumulate) {
    dnnl::post_ops sum;
    sum.append_sum(1.0f);
    attr.set_post_ops(sum);
  }
  dnnl::reorder(dnnl::reorder::primitive_desc(out, plain_out, attr)).execute(s, out, plain_out);
}

// Runs one convolution pass and turns a oneDNN failure into our error naming the geometry.
template <class Pass>
void run_pass(const Conv2dGeometry& g, const char* pass, Pass body) {
  try {
    dnnl::stream s(onednn_engine());
    body(plan_for(g), s);
    s.wait();
  } catch (const dnnl::error& e) {
    SGML_FAIL(conv_geometry_text(g), " ", pass, ": oneDNN failed (", e.what(), ", status ", int(e.status), ")");
  }
}

bool empty(const Conv2dGeometry& g) { return int64_t(g.n) * g.c * g.h * g.w * g.k == 0; }

}  // namespace

void conv2d_forward(float* y, const float* x, const float* w, const Conv2dGeometry& g) {
  if (empty(g)) {
    std::fill(y, y + int64_t(g.n) * g.k * g.p() * g.q(), 0.0f);
    return;
  }
  run_pass(g, "forward", [&](const ConvPlan& p, dnnl::stream& s) {
    memory x_user(p.x_plain, onednn_engine(), const_cast<float*>(x));
    memory w_user(p.w_plain, onednn_engine(), const_cast<float*>(w));
    memory y_user(p.y_plain, onednn_engine(), y);
    memory xm = as_layout(p.forward_pd.src_desc(), x_user, s), wm = as_layout(p.forward_pd.weights_desc(), w_user, s);
    into_plain(p.forward_pd.dst_desc(), y_user, false, s, [&](memory& out) {
      p.forward.execute(s, {{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, out}});
    });
  });
}

void conv2d_backward_data(float* dx, const float* dy, const float* w, const Conv2dGeometry& g, bool accumulate) {
  if (empty(g)) {  // a sum over nothing: zero, which adds nothing
    if (!accumulate) std::fill(dx, dx + int64_t(g.n) * g.c * g.h * g.w, 0.0f);
    return;
  }
  run_pass(g, "backward data", [&](const ConvPlan& p, dnnl::stream& s) {
    memory dy_user(p.y_plain, onednn_engine(), const_cast<float*>(dy));
    memory w_user(p.w_plain, onednn_engine(), const_cast<float*>(w));
    memory dx_user(p.x_plain, onednn_engine(), dx);
    memory dym = as_layout(p.backward_data_pd.diff_dst_desc(), dy_user, s);
    memory wm = as_layout(p.backward_data_pd.weights_desc(), w_user, s);
    into_plain(p.backward_data_pd.diff_src_desc(), dx_user, accumulate, s, [&](memory& out) {
      p.backward_data.execute(s, {{DNNL_ARG_DIFF_DST, dym}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DIFF_SRC, out}});
    });
  });
}

void conv2d_backward_filter(float* dw, const float* dy, const float* x, const Conv2dGeometry& g, bool accumulate) {
  if (empty(g)) {
    if (!accumulate) std::fill(dw, dw + int64_t(g.k) * g.c * g.r * g.s, 0.0f);
    return;
  }
  run_pass(g, "backward filter", [&](const ConvPlan& p, dnnl::stream& s) {
    memory dy_user(p.y_plain, onednn_engine(), const_cast<float*>(dy));
    memory x_user(p.x_plain, onednn_engine(), const_cast<float*>(x));
    memory dw_user(p.w_plain, onednn_engine(), dw);
    memory dym = as_layout(p.backward_weights_pd.diff_dst_desc(), dy_user, s);
    memory xm = as_layout(p.backward_weights_pd.src_desc(), x_user, s);
    into_plain(p.backward_weights_pd.diff_weights_desc(), dw_user, accumulate, s, [&](memory& out) {
      p.backward_weights.execute(s, {{DNNL_ARG_SRC, xm}, {DNNL_ARG_DIFF_DST, dym}, {DNNL_ARG_DIFF_WEIGHTS, out}});
    });
  });
}

}  // namespace sgml::cpu
