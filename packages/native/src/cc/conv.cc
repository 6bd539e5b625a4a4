// 2-D convolution on oneDNN: forward (optionally with bias and ReLU fused), backward-data and
// backward-weights. Activations stay in TensorFlow.js's plain NHWC layout; weights arrive as
// HWIO and are reordered into whatever blocked layout oneDNN picks (format_tag::any), because
// forcing plain weights halves the speed. Primitives are built once per shape and cached.
#include <map>
#include <memory>

#include "common.h"

namespace supcon {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

struct ConvShape {
  memory::dims src, weights, dst, strides, dilates, padL, padR;
  std::vector<int64_t> key;
};

// Arguments: xShape [N,H,W,C], wShape [KH,KW,CI,CO], yShape [N,OH,OW,CO],
// params [strideH, strideW, dilationH, dilationW, padTop, padLeft, padBottom, padRight].
ConvShape MakeShape(const std::vector<int64_t>& x, const std::vector<int64_t>& w,
                    const std::vector<int64_t>& y, const std::vector<int64_t>& p, Napi::Env env) {
  if (x.size() != 4 || w.size() != 4 || y.size() != 4 || p.size() != 8) {
    throw Napi::Error::New(env, "conv2d: expected 4-D shapes and 8 parameters");
  }
  ConvShape s;
  s.src = {x[0], x[3], x[1], x[2]};
  s.weights = {w[3], w[2], w[0], w[1]};
  s.dst = {y[0], y[3], y[1], y[2]};
  s.strides = {p[0], p[1]};
  s.dilates = {p[2] - 1, p[3] - 1};
  s.padL = {p[4], p[5]};
  s.padR = {p[6], p[7]};
  s.key.insert(s.key.end(), x.begin(), x.end());
  s.key.insert(s.key.end(), w.begin(), w.end());
  s.key.insert(s.key.end(), y.begin(), y.end());
  s.key.insert(s.key.end(), p.begin(), p.end());
  return s;
}

dnnl::convolution_forward::primitive_desc ForwardPd(const ConvShape& s, bool bias, int activation) {
  memory::desc src(s.src, dt::f32, tag::nhwc), dst(s.dst, dt::f32, tag::nhwc);
  memory::desc w(s.weights, dt::f32, tag::any);
  dnnl::primitive_attr attr;
  if (activation == 1) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(ops);
  }
  if (bias) {
    memory::desc b({s.dst[1]}, dt::f32, tag::x);
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                      src, w, b, dst, s.strides, s.dilates, s.padL, s.padR);
    return dnnl::convolution_forward::primitive_desc(d, attr, Engine());
  }
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                    src, w, dst, s.strides, s.dilates, s.padL, s.padR);
  return dnnl::convolution_forward::primitive_desc(d, attr, Engine());
}

// A weights tensor in the user's HWIO layout and, when oneDNN wants another layout, the
// reorder into (or out of) a library-owned buffer in that layout.
struct WeightsBridge {
  memory::desc user;
  memory::desc prim;
  bool needsReorder = false;
  std::unique_ptr<memory> buffer;
  std::unique_ptr<dnnl::reorder> reorder;

  void Init(const memory::dims& dims, const memory::desc& primDesc, bool toUser) {
    user = memory::desc(dims, dt::f32, tag::hwio);
    prim = primDesc;
    needsReorder = user != prim;
    if (!needsReorder) return;
    buffer = std::make_unique<memory>(prim, Engine());
    reorder = toUser ? std::make_unique<dnnl::reorder>(dnnl::reorder::primitive_desc(Engine(), prim, Engine(), user))
                     : std::make_unique<dnnl::reorder>(dnnl::reorder::primitive_desc(Engine(), user, Engine(), prim));
  }
};

struct ForwardEntry {
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward prim;
  WeightsBridge weights;
};

struct BackwardDataEntry {
  dnnl::convolution_backward_data::primitive_desc pd;
  dnnl::convolution_backward_data prim;
  WeightsBridge weights;
};

struct BackwardWeightsEntry {
  dnnl::convolution_backward_weights::primitive_desc pd;
  dnnl::convolution_backward_weights prim;
  WeightsBridge weights;
};

std::map<std::vector<int64_t>, std::unique_ptr<ForwardEntry>> forwardCache;
std::map<std::vector<int64_t>, std::unique_ptr<BackwardDataEntry>> backwardDataCache;
std::map<std::vector<int64_t>, std::unique_ptr<BackwardWeightsEntry>> backwardWeightsCache;

// conv2d(x, xShape, w, wShape, y, yShape, params, bias|null, activation 0=linear 1=relu)
Napi::Value Conv2D(const Napi::CallbackInfo& info) {
  float* x = F32(info, 0);
  float* w = F32(info, 2);
  float* y = F32(info, 4);
  ConvShape s = MakeShape(Ints(info, 1), Ints(info, 3), Ints(info, 5), Ints(info, 6), info.Env());
  bool hasBias = info[7].IsTypedArray();
  float* bias = hasBias ? F32(info, 7) : nullptr;
  int activation = static_cast<int>(Num(info, 8));
  std::vector<int64_t> key = s.key;
  key.push_back(hasBias);
  key.push_back(activation);
  auto& entry = forwardCache[key];
  if (!entry) {
    auto pd = ForwardPd(s, hasBias, activation);
    entry.reset(new ForwardEntry{pd, dnnl::convolution_forward(pd), {}});
    entry->weights.Init(s.weights, pd.weights_desc(), false);
  }
  auto& stream = Stream();
  memory src(entry->pd.src_desc(), Engine(), x), dst(entry->pd.dst_desc(), Engine(), y);
  memory userW(entry->weights.user, Engine(), w);
  memory primW = userW;
  if (entry->weights.needsReorder) {
    primW = *entry->weights.buffer;
    entry->weights.reorder->execute(stream, userW, primW);
  }
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, primW}, {DNNL_ARG_DST, dst}};
  if (hasBias) args.emplace(DNNL_ARG_BIAS, memory(entry->pd.bias_desc(), Engine(), bias));
  entry->prim.execute(stream, args);
  stream.wait();
  return info.Env().Undefined();
}

// conv2dBackpropInput(dy, dyShape, w, wShape, dx, dxShape, params)
Napi::Value Conv2DBackpropInput(const Napi::CallbackInfo& info) {
  float* dy = F32(info, 0);
  float* w = F32(info, 2);
  float* dx = F32(info, 4);
  ConvShape s = MakeShape(Ints(info, 5), Ints(info, 3), Ints(info, 1), Ints(info, 6), info.Env());
  auto& entry = backwardDataCache[s.key];
  if (!entry) {
    auto hint = ForwardPd(s, false, 0);
    memory::desc src(s.src, dt::f32, tag::nhwc), dst(s.dst, dt::f32, tag::nhwc);
    memory::desc wd(s.weights, dt::f32, tag::any);
    dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, src, wd, dst, s.strides, s.dilates,
                                            s.padL, s.padR);
    dnnl::convolution_backward_data::primitive_desc pd(d, Engine(), hint);
    entry.reset(new BackwardDataEntry{pd, dnnl::convolution_backward_data(pd), {}});
    entry->weights.Init(s.weights, pd.weights_desc(), false);
  }
  auto& stream = Stream();
  memory diffSrc(entry->pd.diff_src_desc(), Engine(), dx), diffDst(entry->pd.diff_dst_desc(), Engine(), dy);
  memory userW(entry->weights.user, Engine(), w);
  memory primW = userW;
  if (entry->weights.needsReorder) {
    primW = *entry->weights.buffer;
    entry->weights.reorder->execute(stream, userW, primW);
  }
  entry->prim.execute(stream, {{DNNL_ARG_DIFF_SRC, diffSrc}, {DNNL_ARG_WEIGHTS, primW}, {DNNL_ARG_DIFF_DST, diffDst}});
  stream.wait();
  return info.Env().Undefined();
}

// conv2dBackpropFilter(x, xShape, dy, dyShape, dw, wShape, params)
Napi::Value Conv2DBackpropFilter(const Napi::CallbackInfo& info) {
  float* x = F32(info, 0);
  float* dy = F32(info, 2);
  float* dw = F32(info, 4);
  ConvShape s = MakeShape(Ints(info, 1), Ints(info, 5), Ints(info, 3), Ints(info, 6), info.Env());
  auto& entry = backwardWeightsCache[s.key];
  if (!entry) {
    auto hint = ForwardPd(s, false, 0);
    memory::desc src(s.src, dt::f32, tag::nhwc), dst(s.dst, dt::f32, tag::nhwc);
    memory::desc wd(s.weights, dt::f32, tag::any);
    dnnl::convolution_backward_weights::desc d(dnnl::algorithm::convolution_direct, src, wd, dst, s.strides,
                                               s.dilates, s.padL, s.padR);
    dnnl::convolution_backward_weights::primitive_desc pd(d, Engine(), hint);
    entry.reset(new BackwardWeightsEntry{pd, dnnl::convolution_backward_weights(pd), {}});
    entry->weights.Init(s.weights, pd.diff_weights_desc(), true);
  }
  auto& stream = Stream();
  memory src(entry->pd.src_desc(), Engine(), x), diffDst(entry->pd.diff_dst_desc(), Engine(), dy);
  memory userW(entry->weights.user, Engine(), dw);
  memory primW = entry->weights.needsReorder ? *entry->weights.buffer : userW;
  entry->prim.execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_WEIGHTS, primW}, {DNNL_ARG_DIFF_DST, diffDst}});
  if (entry->weights.needsReorder) entry->weights.reorder->execute(stream, primW, userW);
  stream.wait();
  return info.Env().Undefined();
}

}  // namespace

void InitConv(Napi::Env env, Napi::Object exports) {
  exports.Set("conv2d", Napi::Function::New(env, Conv2D));
  exports.Set("conv2dBackpropInput", Napi::Function::New(env, Conv2DBackpropInput));
  exports.Set("conv2dBackpropFilter", Napi::Function::New(env, Conv2DBackpropFilter));
}

}  // namespace supcon
