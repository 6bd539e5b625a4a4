// Max and average 2-D pooling on oneDNN (NHWC), forward and backward. Max pooling's backward
// needs the forward's workspace (the arg-max positions): the backward kernel reruns the forward
// in training mode to get it, because tfjs's MaxPoolGrad receives only x, y and dy.
#include <map>
#include <memory>

#include "common.h"

namespace supcon {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

struct PoolEntry {
  dnnl::pooling_forward::primitive_desc fwdPd;
  dnnl::pooling_forward fwd;
  dnnl::pooling_backward::primitive_desc bwdPd;
  dnnl::pooling_backward bwd;
  std::unique_ptr<memory> workspace;
};

std::map<std::vector<int64_t>, std::unique_ptr<PoolEntry>> cache;

// xShape [N,H,W,C], yShape [N,OH,OW,C], params [kh, kw, sh, sw, pt, pl, pb, pr], max (bool)
PoolEntry& Get(const std::vector<int64_t>& x, const std::vector<int64_t>& y, const std::vector<int64_t>& p,
               bool isMax, Napi::Env env) {
  if (x.size() != 4 || y.size() != 4 || p.size() != 8) throw Napi::Error::New(env, "pool2d: bad shapes");
  std::vector<int64_t> key = x;
  key.insert(key.end(), y.begin(), y.end());
  key.insert(key.end(), p.begin(), p.end());
  key.push_back(isMax);
  auto& entry = cache[key];
  if (!entry) {
    memory::desc src({x[0], x[3], x[1], x[2]}, dt::f32, tag::nhwc);
    memory::desc dst({y[0], y[3], y[1], y[2]}, dt::f32, tag::nhwc);
    memory::dims kernel{p[0], p[1]}, strides{p[2], p[3]}, padL{p[4], p[5]}, padR{p[6], p[7]};
    auto alg = isMax ? dnnl::algorithm::pooling_max : dnnl::algorithm::pooling_avg_exclude_padding;
    dnnl::pooling_forward::desc fd(dnnl::prop_kind::forward_training, alg, src, dst, strides, kernel, padL, padR);
    dnnl::pooling_forward::primitive_desc fpd(fd, Engine());
    dnnl::pooling_backward::desc bd(alg, src, dst, strides, kernel, padL, padR);
    dnnl::pooling_backward::primitive_desc bpd(bd, Engine(), fpd);
    entry.reset(new PoolEntry{fpd, dnnl::pooling_forward(fpd), bpd, dnnl::pooling_backward(bpd), nullptr});
    if (isMax) entry->workspace = std::make_unique<memory>(fpd.workspace_desc(), Engine());
  }
  return *entry;
}

// pool2d(x, xShape, y, yShape, params, isMax)
Napi::Value Pool2D(const Napi::CallbackInfo& info) {
  float* x = F32(info, 0);
  float* y = F32(info, 2);
  bool isMax = info[5].ToBoolean();
  PoolEntry& e = Get(Ints(info, 1), Ints(info, 3), Ints(info, 4), isMax, info.Env());
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(e.fwdPd.src_desc(), Engine(), x)},
                                       {DNNL_ARG_DST, memory(e.fwdPd.dst_desc(), Engine(), y)}};
  if (isMax) args.emplace(DNNL_ARG_WORKSPACE, *e.workspace);
  e.fwd.execute(Stream(), args);
  Stream().wait();
  return info.Env().Undefined();
}

// pool2dBackward(dy, x|null, dx, xShape, yShape, params, isMax); x is needed for max pooling.
Napi::Value Pool2DBackward(const Napi::CallbackInfo& info) {
  float* dy = F32(info, 0);
  float* dx = F32(info, 2);
  bool isMax = info[6].ToBoolean();
  auto xShape = Ints(info, 3), yShape = Ints(info, 4);
  PoolEntry& e = Get(xShape, yShape, Ints(info, 5), isMax, info.Env());
  if (isMax) {
    float* x = F32(info, 1);
    std::vector<float> scratch(static_cast<size_t>(yShape[0] * yShape[1] * yShape[2] * yShape[3]));
    e.fwd.execute(Stream(), {{DNNL_ARG_SRC, memory(e.fwdPd.src_desc(), Engine(), x)},
                             {DNNL_ARG_DST, memory(e.fwdPd.dst_desc(), Engine(), scratch.data())},
                             {DNNL_ARG_WORKSPACE, *e.workspace}});
  }
  std::unordered_map<int, memory> args{{DNNL_ARG_DIFF_DST, memory(e.bwdPd.diff_dst_desc(), Engine(), dy)},
                                       {DNNL_ARG_DIFF_SRC, memory(e.bwdPd.diff_src_desc(), Engine(), dx)}};
  if (isMax) args.emplace(DNNL_ARG_WORKSPACE, *e.workspace);
  e.bwd.execute(Stream(), args);
  Stream().wait();
  return info.Env().Undefined();
}

}  // namespace

void InitPool(Napi::Env env, Napi::Object exports) {
  exports.Set("pool2d", Napi::Function::New(env, Pool2D));
  exports.Set("pool2dBackward", Napi::Function::New(env, Pool2DBackward));
}

}  // namespace supcon
