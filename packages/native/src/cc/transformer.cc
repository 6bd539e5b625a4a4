// The Vision Transformer's elementwise and row kernels, each with its gradient: LayerNorm over the
// last axis (rows of D), GELU, exact (erf) or tanh, and attention's scaled softmax. fp32 inputs (bf16 inputs are widened in
// JavaScript), except GELU's, which reads either storage; LayerNorm and GELU write bf16 outputs in bf16
// mode (they feed linear layers only), and so does GELU's gradient (it feeds a linear layer's gradient). tfjs composes LayerNorm from ~8 ops with a ~20-op gradient, and its cpu Erf is a
// JavaScript loop; here each is one pass forward and one backward. The loops (transformer_impl.inc)
// are compiled for baseline x86-64, AVX2+FMA and AVX-512, chosen at run time as in batch_norm.cc.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "bf16.h"
#include "common.h"

// FP exceptions are never inspected; without trapping maths GCC if-converts the GELU loops' selects
// (clamps, signs) and vectorises them. Applies to this file's functions only.
#pragma GCC optimize("no-trapping-math")

namespace supcon {
namespace tr_default {
#include "transformer_impl.inc"
}  // namespace tr_default

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace tr_avx2 {
#include "transformer_impl.inc"
}  // namespace tr_avx2
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,fma")
namespace tr_avx512 {
#include "transformer_impl.inc"
}  // namespace tr_avx512
#pragma GCC pop_options

namespace {

enum class Isa { kDefault, kAvx2, kAvx512 };

Isa Best() {
  static const Isa isa = [] {
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
      return Isa::kAvx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::kAvx2;
    return Isa::kDefault;
  }();
  return isa;
}

#define SUPCON_DISPATCH(fn, ...)                              \
  switch (Best()) {                                           \
    case Isa::kAvx512: tr_avx512::fn(__VA_ARGS__); break;     \
    case Isa::kAvx2: tr_avx2::fn(__VA_ARGS__); break;         \
    default: tr_default::fn(__VA_ARGS__); break;              \
  }

int64_t RowsOf(const Napi::Env& env, const char* what, size_t n, int64_t D) {
  if (D <= 0 || n % static_cast<size_t>(D) != 0) {
    throw Napi::TypeError::New(env, std::string(what) + ": x has " + std::to_string(n) +
                                        " elements, not a positive multiple of D = " + std::to_string(D));
  }
  return static_cast<int64_t>(n) / D;
}

// layerNorm(x, D, gamma, beta, epsilon, y, mean, invStd); y a Float32Array or (bf16) a Uint16Array
Napi::Value LayerNorm(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  size_t n, ng, nb, ny, nm, ns;
  float* x = F32(info, 0, &n);
  int64_t D = static_cast<int64_t>(Num(info, 1));
  float* gamma = F32(info, 2, &ng);
  float* beta = F32(info, 3, &nb);
  float eps = static_cast<float>(Num(info, 4));
  Buf y = AnyBuf(info, 5);
  ny = y.length;
  float* mean = F32(info, 6, &nm);
  float* invStd = F32(info, 7, &ns);
  int64_t rows = RowsOf(env, "layerNorm", n, D);
  CheckLength(env, "layerNorm gamma", ng, D);
  CheckLength(env, "layerNorm beta", nb, D);
  CheckLength(env, "layerNorm y", ny, n);
  CheckLength(env, "layerNorm mean", nm, rows);
  CheckLength(env, "layerNorm invStd", ns, rows);
  if (y.bf16) {
    SUPCON_DISPATCH(LayerNormForward, x, rows, D, gamma, beta, eps, y.h(), mean, invStd);
  } else {
    SUPCON_DISPATCH(LayerNormForward, x, rows, D, gamma, beta, eps, y.f(), mean, invStd);
  }
  return env.Undefined();
}

// layerNormGrad(dy, x, D, gamma, mean, invStd, dx, dgamma, dbeta)
Napi::Value LayerNormGrad(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  size_t n, nx, ng, nm, ns, ndx, ndg, ndb;
  float* dy = F32(info, 0, &n);
  float* x = F32(info, 1, &nx);
  int64_t D = static_cast<int64_t>(Num(info, 2));
  float* gamma = F32(info, 3, &ng);
  float* mean = F32(info, 4, &nm);
  float* invStd = F32(info, 5, &ns);
  float* dx = F32(info, 6, &ndx);
  float* dgamma = F32(info, 7, &ndg);
  float* dbeta = F32(info, 8, &ndb);
  int64_t rows = RowsOf(env, "layerNormGrad", n, D);
  CheckLength(env, "layerNormGrad x", nx, n);
  CheckLength(env, "layerNormGrad gamma", ng, D);
  CheckLength(env, "layerNormGrad mean", nm, rows);
  CheckLength(env, "layerNormGrad invStd", ns, rows);
  CheckLength(env, "layerNormGrad dx", ndx, n);
  CheckLength(env, "layerNormGrad dgamma", ndg, D);
  CheckLength(env, "layerNormGrad dbeta", ndb, D);
  SUPCON_DISPATCH(LayerNormBackward, dy, x, rows, D, gamma, mean, invStd, dx, dgamma, dbeta);
  return env.Undefined();
}

// Calls f with the typed storage of `b`: const float* or const bf16_t*.
template <typename F>
void Typed(const Buf& b, F f) {
  if (b.bf16) {
    f(static_cast<const bf16_t*>(b.h()));
  } else {
    f(static_cast<const float*>(b.f()));
  }
}

// gelu(x, tanhApproximation, y); x and y Float32Arrays or Uint16Arrays (bf16)
Napi::Value Gelu(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  Buf x = AnyBuf(info, 0);
  const int64_t n = static_cast<int64_t>(x.length);
  bool tanhApprox = info[1].ToBoolean();
  Buf y = AnyBuf(info, 2);
  CheckLength(env, "gelu y", y.length, x.length);
  Typed(x, [&](auto xp) {
    if (y.bf16) {
      SUPCON_DISPATCH(GeluForward, xp, n, tanhApprox, y.h());
    } else {
      SUPCON_DISPATCH(GeluForward, xp, n, tanhApprox, y.f());
    }
  });
  return env.Undefined();
}

// geluGrad(dy, x, tanhApproximation, dx); each a Float32Array or a Uint16Array (bf16)
Napi::Value GeluGrad(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  Buf dy = AnyBuf(info, 0), x = AnyBuf(info, 1);
  bool tanhApprox = info[2].ToBoolean();
  Buf dx = AnyBuf(info, 3);
  const int64_t n = static_cast<int64_t>(dy.length);
  CheckLength(env, "geluGrad x", x.length, dy.length);
  CheckLength(env, "geluGrad dx", dx.length, dy.length);
  Typed(dy, [&](auto dyp) {
    Typed(x, [&](auto xp) {
      if (dx.bf16) {
        SUPCON_DISPATCH(GeluBackward, dyp, xp, n, tanhApprox, dx.h());
      } else {
        SUPCON_DISPATCH(GeluBackward, dyp, xp, n, tanhApprox, dx.f());
      }
    });
  });
  return env.Undefined();
}

// scaledSoftmax(x, n, scale, y): y = softmax(scale · x) over rows of n.
Napi::Value ScaledSoftmax(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  size_t nx, ny;
  float* x = F32(info, 0, &nx);
  int64_t n = static_cast<int64_t>(Num(info, 1));
  float scale = static_cast<float>(Num(info, 2));
  float* y = F32(info, 3, &ny);
  int64_t rows = RowsOf(env, "scaledSoftmax", nx, n);
  CheckLength(env, "scaledSoftmax y", ny, nx);
  SUPCON_DISPATCH(ScaledSoftmaxForward, x, rows, n, scale, y);
  return env.Undefined();
}

// scaledSoftmaxGrad(dy, y, n, scale, dx): dx = scale · y ⊙ (dy − Σ dy ⊙ y) over rows of n.
Napi::Value ScaledSoftmaxGrad(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  size_t nd, ny, ndx;
  float* dy = F32(info, 0, &nd);
  float* y = F32(info, 1, &ny);
  int64_t n = static_cast<int64_t>(Num(info, 2));
  float scale = static_cast<float>(Num(info, 3));
  float* dx = F32(info, 4, &ndx);
  int64_t rows = RowsOf(env, "scaledSoftmaxGrad", nd, n);
  CheckLength(env, "scaledSoftmaxGrad y", ny, nd);
  CheckLength(env, "scaledSoftmaxGrad dx", ndx, nd);
  SUPCON_DISPATCH(ScaledSoftmaxBackward, dy, y, rows, n, scale, dx);
  return env.Undefined();
}

}  // namespace

void ScaledSoftmaxRows(const float* x, int64_t rows, int64_t n, float scale, float* y) {
  SUPCON_DISPATCH(ScaledSoftmaxForward, x, rows, n, scale, y);
}

void ScaledSoftmaxRowsGrad(const float* dy, const float* y, int64_t rows, int64_t n, float scale, float* dx) {
  SUPCON_DISPATCH(ScaledSoftmaxBackward, dy, y, rows, n, scale, dx);
}

void ColumnSums(const float* dy, int64_t rows, int64_t N, float* db, uint16_t* narrowed) {
  SUPCON_DISPATCH(ColumnSumsImpl, dy, rows, N, db, narrowed);
}

void ColumnSums(const uint16_t* dy, int64_t rows, int64_t N, float* db) {
  SUPCON_DISPATCH(ColumnSumsImpl, dy, rows, N, db, static_cast<bf16_t*>(nullptr));
}

#undef SUPCON_DISPATCH

void InitTransformer(Napi::Env env, Napi::Object exports) {
  exports.Set("layerNorm", Napi::Function::New(env, LayerNorm));
  exports.Set("layerNormGrad", Napi::Function::New(env, LayerNormGrad));
  exports.Set("gelu", Napi::Function::New(env, Gelu));
  exports.Set("geluGrad", Napi::Function::New(env, GeluGrad));
  exports.Set("scaledSoftmax", Napi::Function::New(env, ScaledSoftmax));
  exports.Set("scaledSoftmaxGrad", Napi::Function::New(env, ScaledSoftmaxGrad));
}

}  // namespace supcon
