// Batch normalisation over the last (channel) axis as one fused kernel, forward and backward,
// with optional fused residual add and ReLU: y = relu(gamma * (x - mean) / sqrt(var + eps) + beta + r).
// tfjs builds a ~25-op gradient graph per BN layer; this replaces it with two passes over the data.
// Inputs are treated as [rows, C] (NHWC flattened). Statistics are accumulated in double.
// Activations (x, residual, y and their gradients) are all fp32 or all bf16, as the output buffer
// says (an input in the other storage is converted first); parameters and statistics are fp32.
#include <algorithm>
#include <cmath>

#include "bf16.h"

namespace supcon {
namespace bn_default {
#include "batch_norm_impl.inc"
}  // namespace bn_default

// The same loops with 512-bit vectors: no -march flag, so the rest of the addon runs on any x86-64.
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,fma")
namespace bn_avx512 {
#include "batch_norm_impl.inc"
}  // namespace bn_avx512
#pragma GCC pop_options

// And with 256-bit vectors and FMA, for x86-64 CPUs without AVX-512 (AMD Zen 2/3, older Intel):
// the baseline build above has SSE2 only, which made batch norm a fifth of the small ResNet's step there.
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace bn_avx2 {
#include "batch_norm_impl.inc"
}  // namespace bn_avx2
#pragma GCC pop_options

namespace {

bool UseAvx512() {
  static const bool yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  return yes;
}

bool UseAvx2() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}

template <typename T>
void BatchNormTrainT(const T* x, int64_t rows, int64_t C, const float* gamma, const float* beta, const T* residual,
                     double eps, bool relu, T* y, float* mean, float* variance) {
  if (UseAvx512()) bn_avx512::BatchNormTrainT<T>(x, rows, C, gamma, beta, residual, eps, relu, y, mean, variance);
  else if (UseAvx2()) bn_avx2::BatchNormTrainT<T>(x, rows, C, gamma, beta, residual, eps, relu, y, mean, variance);
  else bn_default::BatchNormTrainT<T>(x, rows, C, gamma, beta, residual, eps, relu, y, mean, variance);
}

template <typename T>
void BatchNormGradT(const T* dy, const T* x, const T* y, int64_t rows, int64_t C, const float* gamma,
                    const float* mean, const float* variance, double eps, T* dx, float* dgamma, float* dbeta,
                    T* dres) {
  if (UseAvx512()) bn_avx512::BatchNormGradT<T>(dy, x, y, rows, C, gamma, mean, variance, eps, dx, dgamma, dbeta, dres);
  else if (UseAvx2()) bn_avx2::BatchNormGradT<T>(dy, x, y, rows, C, gamma, mean, variance, eps, dx, dgamma, dbeta, dres);
  else bn_default::BatchNormGradT<T>(dy, x, y, rows, C, gamma, mean, variance, eps, dx, dgamma, dbeta, dres);
}

template <typename T>
void Normalise(const T* x, const T* residual, const std::vector<float>& scale, const std::vector<float>& shift,
               bool relu, int64_t rows, int64_t C, T* y) {
  if (UseAvx512()) bn_avx512::Normalise<T>(x, residual, scale, shift, relu, rows, C, y);
  else if (UseAvx2()) bn_avx2::Normalise<T>(x, residual, scale, shift, relu, rows, C, y);
  else bn_default::Normalise<T>(x, residual, scale, shift, relu, rows, C, y);
}

// Activation arguments in the storage of the output: converted copies where an input differs.
struct Activations {
  std::vector<uint16_t> s16[3];
  std::vector<float> s32[3];
  int used = 0;
  void* As(const Buf& b, bool bf16) {
    if (b.data == nullptr || b.bf16 == bf16) return b.data;
    int k = used++;
    if (bf16) {
      s16[k].resize(b.length);
      NarrowToBf16(b.f(), s16[k].data(), static_cast<int64_t>(b.length));
      return s16[k].data();
    }
    s32[k].resize(b.length);
    WidenBf16(b.h(), s32[k].data(), static_cast<int64_t>(b.length));
    return s32[k].data();
  }
};

Napi::Value BatchNormTrain(const Napi::CallbackInfo& info) {
  Buf yb = AnyBuf(info, 7);
  Activations act;
  Buf xb = AnyBuf(info, 0);
  void* x = act.As(xb, yb.bf16);
  int64_t C = static_cast<int64_t>(Num(info, 1));
  size_t cs[4] = {0, 0, 0, 0};
  float* gamma = F32(info, 2, &cs[0]);
  float* beta = F32(info, 3, &cs[1]);
  Buf rb = AnyBuf(info, 4, true);
  double eps = Num(info, 5);
  bool relu = info[6].ToBoolean();
  float* mean = F32(info, 8, &cs[2]);
  float* variance = F32(info, 9, &cs[3]);
  const Napi::Env env = info.Env();
  if (C <= 0 || xb.length % C != 0) {
    throw Napi::TypeError::New(env, "batchNormTrain: x has " + std::to_string(xb.length) +
                                        " elements, not a positive multiple of C = " + std::to_string(C));
  }
  const char* names[4] = {"batchNormTrain gamma", "batchNormTrain beta", "batchNormTrain mean", "batchNormTrain variance"};
  for (int k = 0; k < 4; k++) CheckLength(env, names[k], cs[k], C);
  CheckLength(env, "batchNormTrain y", yb.length, xb.length);
  if (rb.data) CheckLength(env, "batchNormTrain residual", rb.length, xb.length);
  void* residual = act.As(rb, yb.bf16);
  int64_t rows = static_cast<int64_t>(xb.length) / C;
  if (yb.bf16) {
    BatchNormTrainT<bf16_t>(static_cast<bf16_t*>(x), rows, C, gamma, beta, static_cast<bf16_t*>(residual), eps, relu,
                            yb.h(), mean, variance);
  } else {
    BatchNormTrainT<float>(static_cast<float*>(x), rows, C, gamma, beta, static_cast<float*>(residual), eps, relu,
                           yb.f(), mean, variance);
  }
  return info.Env().Undefined();
}

// batchNormInfer(x, C, gamma, beta, mean, variance, residual|null, epsilon, relu, y)
Napi::Value BatchNormInfer(const Napi::CallbackInfo& info) {
  size_t n;
  float* x = F32(info, 0, &n);  // fp32 only: bf16 inputs are widened in JavaScript
  int64_t C = static_cast<int64_t>(Num(info, 1));
  float* gamma = F32(info, 2);
  float* beta = F32(info, 3);
  float* mean = F32(info, 4);
  float* variance = F32(info, 5);
  float* residual = info[6].IsTypedArray() ? F32(info, 6) : nullptr;
  double eps = Num(info, 7);
  bool relu = info[8].ToBoolean();
  float* y = F32(info, 9);
  std::vector<float> scale(C), shift(C);
  for (int64_t c = 0; c < C; c++) {
    double inv = 1.0 / std::sqrt(static_cast<double>(variance[c]) + eps);
    scale[c] = static_cast<float>(gamma[c] * inv);
    shift[c] = static_cast<float>(beta[c] - mean[c] * gamma[c] * inv);
  }
  Normalise(x, residual, scale, shift, relu, static_cast<int64_t>(n) / C, C, y);
  return info.Env().Undefined();
}

// batchNormGrad(dy, x, y|null, C, gamma, mean, variance, epsilon, dx, dgamma, dbeta, dresidual|null)
// When y is given (ReLU was fused), dy is first masked by y > 0.
Napi::Value BatchNormGrad(const Napi::CallbackInfo& info) {
  Buf dxb = AnyBuf(info, 8);
  bool h = dxb.bf16;
  Activations act;
  Buf dyb = AnyBuf(info, 0);
  void* dy = act.As(dyb, h);
  void* x = act.As(AnyBuf(info, 1), h);
  void* y = act.As(AnyBuf(info, 2, true), h);
  int64_t C = static_cast<int64_t>(Num(info, 3));
  size_t cs[5] = {0, 0, 0, 0, 0};
  float* gamma = F32(info, 4, &cs[0]);
  float* mean = F32(info, 5, &cs[1]);
  float* variance = F32(info, 6, &cs[2]);
  double eps = Num(info, 7);
  float* dgamma = F32(info, 9, &cs[3]);
  float* dbeta = F32(info, 10, &cs[4]);
  Buf dresb = AnyBuf(info, 11, true);
  const Napi::Env env = info.Env();
  if (dresb.data && dresb.bf16 != h) throw Napi::TypeError::New(env, "batchNormGrad: dx and dresidual differ in storage");
  if (C <= 0 || dyb.length % C != 0) {
    throw Napi::TypeError::New(env, "batchNormGrad: dy has " + std::to_string(dyb.length) +
                                        " elements, not a positive multiple of C = " + std::to_string(C));
  }
  const char* names[5] = {"batchNormGrad gamma", "batchNormGrad mean", "batchNormGrad variance", "batchNormGrad dgamma",
                          "batchNormGrad dbeta"};
  for (int k = 0; k < 5; k++) CheckLength(env, names[k], cs[k], C);
  CheckLength(env, "batchNormGrad x", AnyBuf(info, 1).length, dyb.length);
  CheckLength(env, "batchNormGrad dx", dxb.length, dyb.length);
  if (Buf yb = AnyBuf(info, 2, true); yb.data) CheckLength(env, "batchNormGrad y", yb.length, dyb.length);
  if (dresb.data) CheckLength(env, "batchNormGrad dresidual", dresb.length, dyb.length);
  int64_t rows = static_cast<int64_t>(dyb.length) / C;
  if (h) {
    BatchNormGradT<bf16_t>(static_cast<bf16_t*>(dy), static_cast<bf16_t*>(x), static_cast<bf16_t*>(y), rows, C, gamma,
                           mean, variance, eps, dxb.h(), dgamma, dbeta, dresb.h());
  } else {
    BatchNormGradT<float>(static_cast<float*>(dy), static_cast<float*>(x), static_cast<float*>(y), rows, C, gamma,
                          mean, variance, eps, dxb.f(), dgamma, dbeta, dresb.f());
  }
  return info.Env().Undefined();
}

}  // namespace

void InitBatchNorm(Napi::Env env, Napi::Object exports) {
  exports.Set("batchNormTrain", Napi::Function::New(env, BatchNormTrain));
  exports.Set("batchNormInfer", Napi::Function::New(env, BatchNormInfer));
  exports.Set("batchNormGrad", Napi::Function::New(env, BatchNormGrad));
}

}  // namespace supcon
