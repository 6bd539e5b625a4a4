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
namespace {

// Accumulates, for rows [r0, r1), s1[c] += sum of a and s2[c] += sum of a * (b - center) (or a * a
// when b is null), with a first masked by (mask > 0) when Masked. Sums of up to kBlock rows are
// kept in float (vectorisable), then added to the double accumulators.
constexpr int64_t kBlock = 32;

template <bool Masked, bool Cross, typename T>
void SumRows(const T* a, const T* mask, const T* b, const float* center, int64_t r0, int64_t r1,
             int64_t C, double* s1, double* s2) {
  std::vector<float> f1(C), f2(C);
  for (int64_t rb = r0; rb < r1; rb += kBlock) {
    int64_t re = std::min(r1, rb + kBlock);
    std::fill(f1.begin(), f1.end(), 0.f);
    std::fill(f2.begin(), f2.end(), 0.f);
    float* __restrict p1 = f1.data();
    float* __restrict p2 = f2.data();
    for (int64_t r = rb; r < re; r++) {
      const T* __restrict ar = a + r * C;
      const T* __restrict mr = Masked ? mask + r * C : nullptr;
      const T* __restrict br = Cross ? b + r * C : nullptr;
      for (int64_t c = 0; c < C; c++) {
        float v = Load(ar, c);
        if constexpr (Masked) v = Load(mr, c) > 0.f ? v : 0.f;
        p1[c] += v;
        if constexpr (Cross) {
          p2[c] += v * (Load(br, c) - center[c]);
        } else {
          p2[c] += v * v;
        }
      }
    }
    for (int64_t c = 0; c < C; c++) {
      s1[c] += p1[c];
      s2[c] += p2[c];
    }
  }
}

// Per-channel sums over all rows on all OpenMP threads (see SumRows).
template <typename T>
void ChannelSums(const T* a, const T* mask, const T* b, const float* center, int64_t rows, int64_t C,
                 std::vector<double>& s1, std::vector<double>& s2) {
  s1.assign(C, 0.0);
  s2.assign(C, 0.0);
  int nt = rows * C >= 65536 ? omp_get_max_threads() : 1;
  std::vector<double> partial(static_cast<size_t>(nt) * 2 * C, 0.0);
#pragma omp parallel num_threads(nt)
  {
    int t = omp_get_thread_num(), n = omp_get_num_threads();
    int64_t chunk = (rows + n - 1) / n, r0 = t * chunk, r1 = std::min(rows, r0 + chunk);
    double* p1 = &partial[static_cast<size_t>(t) * 2 * C];
    double* p2 = p1 + C;
    if (r0 < r1) {
      if (mask && b) SumRows<true, true, T>(a, mask, b, center, r0, r1, C, p1, p2);
      else if (mask) SumRows<true, false, T>(a, mask, b, center, r0, r1, C, p1, p2);
      else if (b) SumRows<false, true, T>(a, mask, b, center, r0, r1, C, p1, p2);
      else SumRows<false, false, T>(a, mask, b, center, r0, r1, C, p1, p2);
    }
  }
  for (int t = 0; t < nt; t++) {
    for (int64_t c = 0; c < C; c++) {
      s1[c] += partial[static_cast<size_t>(t) * 2 * C + c];
      s2[c] += partial[static_cast<size_t>(t) * 2 * C + C + c];
    }
  }
}

// y = relu?(x * scale + shift + residual?)
template <bool Residual, bool Relu, typename T>
void NormaliseRows(const T* x, const T* residual, const float* scale, const float* shift, int64_t r0,
                   int64_t r1, int64_t C, T* y) {
  for (int64_t r = r0; r < r1; r++) {
    const T* __restrict xr = x + r * C;
    const T* __restrict rr = Residual ? residual + r * C : nullptr;
    T* __restrict yr = y + r * C;
    for (int64_t c = 0; c < C; c++) {
      float v = Load(xr, c) * scale[c] + shift[c];
      if constexpr (Residual) v += Load(rr, c);
      if constexpr (Relu) v = v > 0.f ? v : 0.f;
      Store(yr, c, v);
    }
  }
}

template <typename T>
void Normalise(const T* x, const T* residual, const std::vector<float>& scale, const std::vector<float>& shift,
               bool relu, int64_t rows, int64_t C, T* y) {
  const float* sc = scale.data();
  const float* sh = shift.data();
  ParallelFor(rows, 256, [&](int64_t r0, int64_t r1) {
    if (residual && relu) NormaliseRows<true, true, T>(x, residual, sc, sh, r0, r1, C, y);
    else if (residual) NormaliseRows<true, false, T>(x, residual, sc, sh, r0, r1, C, y);
    else if (relu) NormaliseRows<false, true, T>(x, residual, sc, sh, r0, r1, C, y);
    else NormaliseRows<false, false, T>(x, residual, sc, sh, r0, r1, C, y);
  });
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

// batchNormTrain(x, C, gamma, beta, residual|null, epsilon, relu, y, mean, variance)
template <typename T>
void BatchNormTrainT(const T* x, int64_t rows, int64_t C, const float* gamma, const float* beta, const T* residual,
                     double eps, bool relu, T* y, float* mean, float* variance) {
  std::vector<double> s1, s2;
  ChannelSums<T>(x, nullptr, nullptr, nullptr, rows, C, s1, s2);
  std::vector<float> scale(C), shift(C);
  for (int64_t c = 0; c < C; c++) {
    double m = s1[c] / rows;
    double v = std::max(0.0, s2[c] / rows - m * m);
    mean[c] = static_cast<float>(m);
    variance[c] = static_cast<float>(v);
    double inv = 1.0 / std::sqrt(v + eps);
    scale[c] = static_cast<float>(gamma[c] * inv);
    shift[c] = static_cast<float>(beta[c] - m * gamma[c] * inv);
  }
  Normalise<T>(x, residual, scale, shift, relu, rows, C, y);
}

Napi::Value BatchNormTrain(const Napi::CallbackInfo& info) {
  Buf yb = AnyBuf(info, 7);
  Activations act;
  Buf xb = AnyBuf(info, 0);
  void* x = act.As(xb, yb.bf16);
  int64_t C = static_cast<int64_t>(Num(info, 1));
  float* gamma = F32(info, 2);
  float* beta = F32(info, 3);
  void* residual = act.As(AnyBuf(info, 4, true), yb.bf16);
  double eps = Num(info, 5);
  bool relu = info[6].ToBoolean();
  float* mean = F32(info, 8);
  float* variance = F32(info, 9);
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

// dx = a * g - b - (x - mean) * k with g = dy masked by y > 0 (Masked); dres = g (Residual).
template <bool Masked, bool Residual, typename T>
void GradRows(const T* dy, const T* x, const T* y, const float* mean, const float* a, const float* b,
              const float* k, int64_t r0, int64_t r1, int64_t C, T* dx, T* dres) {
  for (int64_t r = r0; r < r1; r++) {
    const T* __restrict dyr = dy + r * C;
    const T* __restrict xr = x + r * C;
    const T* __restrict yr = Masked ? y + r * C : nullptr;
    T* __restrict dxr = dx + r * C;
    T* __restrict drr = Residual ? dres + r * C : nullptr;
    for (int64_t c = 0; c < C; c++) {
      float g = Load(dyr, c);
      if constexpr (Masked) g = Load(yr, c) > 0.f ? g : 0.f;
      if constexpr (Residual) Store(drr, c, g);
      Store(dxr, c, a[c] * g - b[c] - (Load(xr, c) - mean[c]) * k[c]);
    }
  }
}

template <typename T>
void BatchNormGradT(const T* dy, const T* x, const T* y, int64_t rows, int64_t C, const float* gamma,
                    const float* mean, const float* variance, double eps, T* dx, float* dgamma, float* dbeta,
                    T* dres) {
  std::vector<double> sumG, sumGX;
  ChannelSums<T>(dy, y, x, mean, rows, C, sumG, sumGX);
  // dx = gamma * inv * (g - dbeta / R - xhat * dgamma / R), xhat = (x - mean) * inv
  std::vector<float> a(C), b(C), k(C);
  for (int64_t c = 0; c < C; c++) {
    double inv = 1.0 / std::sqrt(static_cast<double>(variance[c]) + eps);
    dbeta[c] = static_cast<float>(sumG[c]);
    dgamma[c] = static_cast<float>(sumGX[c] * inv);
    double gi = gamma[c] * inv;
    a[c] = static_cast<float>(gi);
    k[c] = static_cast<float>(gi * sumGX[c] * inv * inv / rows);
    b[c] = static_cast<float>(gi * sumG[c] / rows);
  }
  ParallelFor(rows, 256, [&](int64_t r0, int64_t r1) {
    if (y && dres) GradRows<true, true, T>(dy, x, y, mean, a.data(), b.data(), k.data(), r0, r1, C, dx, dres);
    else if (y) GradRows<true, false, T>(dy, x, y, mean, a.data(), b.data(), k.data(), r0, r1, C, dx, dres);
    else if (dres) GradRows<false, true, T>(dy, x, y, mean, a.data(), b.data(), k.data(), r0, r1, C, dx, dres);
    else GradRows<false, false, T>(dy, x, y, mean, a.data(), b.data(), k.data(), r0, r1, C, dx, dres);
  });
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
  float* gamma = F32(info, 4);
  float* mean = F32(info, 5);
  float* variance = F32(info, 6);
  double eps = Num(info, 7);
  float* dgamma = F32(info, 9);
  float* dbeta = F32(info, 10);
  Buf dresb = AnyBuf(info, 11, true);
  if (dresb.data && dresb.bf16 != h) throw Napi::TypeError::New(info.Env(), "batchNormGrad: dx and dresidual differ in storage");
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
