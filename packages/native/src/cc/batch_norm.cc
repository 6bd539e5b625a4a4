// Batch normalisation over the last (channel) axis as one fused kernel, forward and backward,
// with optional fused residual add and ReLU: y = relu(gamma * (x - mean) / sqrt(var + eps) + beta + r).
// tfjs builds a ~25-op gradient graph per BN layer; this replaces it with two passes over the data.
// Inputs are treated as [rows, C] (NHWC flattened). Statistics are accumulated in double.
#include <algorithm>
#include <cmath>

#include "common.h"

namespace supcon {
namespace {

// Accumulates, for rows [r0, r1), s1[c] += sum of a and s2[c] += sum of a * (b - center) (or a * a
// when b is null), with a first masked by (mask > 0) when Masked. Sums of up to kBlock rows are
// kept in float (vectorisable), then added to the double accumulators.
constexpr int64_t kBlock = 32;

template <bool Masked, bool Cross>
void SumRows(const float* a, const float* mask, const float* b, const float* center, int64_t r0, int64_t r1,
             int64_t C, double* s1, double* s2) {
  std::vector<float> f1(C), f2(C);
  for (int64_t rb = r0; rb < r1; rb += kBlock) {
    int64_t re = std::min(r1, rb + kBlock);
    std::fill(f1.begin(), f1.end(), 0.f);
    std::fill(f2.begin(), f2.end(), 0.f);
    float* __restrict p1 = f1.data();
    float* __restrict p2 = f2.data();
    for (int64_t r = rb; r < re; r++) {
      const float* __restrict ar = a + r * C;
      const float* __restrict mr = Masked ? mask + r * C : nullptr;
      const float* __restrict br = Cross ? b + r * C : nullptr;
      for (int64_t c = 0; c < C; c++) {
        float v = ar[c];
        if constexpr (Masked) v = mr[c] > 0.f ? v : 0.f;
        p1[c] += v;
        if constexpr (Cross) {
          p2[c] += v * (br[c] - center[c]);
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
void ChannelSums(const float* a, const float* mask, const float* b, const float* center, int64_t rows, int64_t C,
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
      if (mask && b) SumRows<true, true>(a, mask, b, center, r0, r1, C, p1, p2);
      else if (mask) SumRows<true, false>(a, mask, b, center, r0, r1, C, p1, p2);
      else if (b) SumRows<false, true>(a, mask, b, center, r0, r1, C, p1, p2);
      else SumRows<false, false>(a, mask, b, center, r0, r1, C, p1, p2);
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
template <bool Residual, bool Relu>
void NormaliseRows(const float* x, const float* residual, const float* scale, const float* shift, int64_t r0,
                   int64_t r1, int64_t C, float* y) {
  for (int64_t r = r0; r < r1; r++) {
    const float* __restrict xr = x + r * C;
    const float* __restrict rr = Residual ? residual + r * C : nullptr;
    float* __restrict yr = y + r * C;
    for (int64_t c = 0; c < C; c++) {
      float v = xr[c] * scale[c] + shift[c];
      if constexpr (Residual) v += rr[c];
      if constexpr (Relu) v = v > 0.f ? v : 0.f;
      yr[c] = v;
    }
  }
}

void Normalise(const float* x, const float* residual, const std::vector<float>& scale,
               const std::vector<float>& shift, bool relu, int64_t rows, int64_t C, float* y) {
  const float* sc = scale.data();
  const float* sh = shift.data();
  ParallelFor(rows, 256, [&](int64_t r0, int64_t r1) {
    if (residual && relu) NormaliseRows<true, true>(x, residual, sc, sh, r0, r1, C, y);
    else if (residual) NormaliseRows<true, false>(x, residual, sc, sh, r0, r1, C, y);
    else if (relu) NormaliseRows<false, true>(x, residual, sc, sh, r0, r1, C, y);
    else NormaliseRows<false, false>(x, residual, sc, sh, r0, r1, C, y);
  });
}

// batchNormTrain(x, C, gamma, beta, residual|null, epsilon, relu, y, mean, variance)
Napi::Value BatchNormTrain(const Napi::CallbackInfo& info) {
  size_t n;
  float* x = F32(info, 0, &n);
  int64_t C = static_cast<int64_t>(Num(info, 1));
  float* gamma = F32(info, 2);
  float* beta = F32(info, 3);
  float* residual = info[4].IsTypedArray() ? F32(info, 4) : nullptr;
  double eps = Num(info, 5);
  bool relu = info[6].ToBoolean();
  float* y = F32(info, 7);
  float* mean = F32(info, 8);
  float* variance = F32(info, 9);
  int64_t rows = static_cast<int64_t>(n) / C;
  std::vector<double> s1, s2;
  ChannelSums(x, nullptr, nullptr, nullptr, rows, C, s1, s2);
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
  Normalise(x, residual, scale, shift, relu, rows, C, y);
  return info.Env().Undefined();
}

// batchNormInfer(x, C, gamma, beta, mean, variance, residual|null, epsilon, relu, y)
Napi::Value BatchNormInfer(const Napi::CallbackInfo& info) {
  size_t n;
  float* x = F32(info, 0, &n);
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
template <bool Masked, bool Residual>
void GradRows(const float* dy, const float* x, const float* y, const float* mean, const float* a, const float* b,
              const float* k, int64_t r0, int64_t r1, int64_t C, float* dx, float* dres) {
  for (int64_t r = r0; r < r1; r++) {
    const float* __restrict dyr = dy + r * C;
    const float* __restrict xr = x + r * C;
    const float* __restrict yr = Masked ? y + r * C : nullptr;
    float* __restrict dxr = dx + r * C;
    float* __restrict drr = Residual ? dres + r * C : nullptr;
    for (int64_t c = 0; c < C; c++) {
      float g = dyr[c];
      if constexpr (Masked) g = yr[c] > 0.f ? g : 0.f;
      if constexpr (Residual) drr[c] = g;
      dxr[c] = a[c] * g - b[c] - (xr[c] - mean[c]) * k[c];
    }
  }
}

// batchNormGrad(dy, x, y|null, C, gamma, mean, variance, epsilon, dx, dgamma, dbeta, dresidual|null)
// When y is given (ReLU was fused), dy is first masked by y > 0.
Napi::Value BatchNormGrad(const Napi::CallbackInfo& info) {
  size_t n;
  float* dy = F32(info, 0, &n);
  float* x = F32(info, 1);
  float* y = info[2].IsTypedArray() ? F32(info, 2) : nullptr;
  int64_t C = static_cast<int64_t>(Num(info, 3));
  float* gamma = F32(info, 4);
  float* mean = F32(info, 5);
  float* variance = F32(info, 6);
  double eps = Num(info, 7);
  float* dx = F32(info, 8);
  float* dgamma = F32(info, 9);
  float* dbeta = F32(info, 10);
  float* dres = info[11].IsTypedArray() ? F32(info, 11) : nullptr;
  int64_t rows = static_cast<int64_t>(n) / C;
  std::vector<double> sumG, sumGX;
  ChannelSums(dy, y, x, mean, rows, C, sumG, sumGX);
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
    if (y && dres) GradRows<true, true>(dy, x, y, mean, a.data(), b.data(), k.data(), r0, r1, C, dx, dres);
    else if (y) GradRows<true, false>(dy, x, y, mean, a.data(), b.data(), k.data(), r0, r1, C, dx, dres);
    else if (dres) GradRows<false, true>(dy, x, y, mean, a.data(), b.data(), k.data(), r0, r1, C, dx, dres);
    else GradRows<false, false>(dy, x, y, mean, a.data(), b.data(), k.data(), r0, r1, C, dx, dres);
  });
  return info.Env().Undefined();
}

}  // namespace

void InitBatchNorm(Napi::Env env, Napi::Object exports) {
  exports.Set("batchNormTrain", Napi::Function::New(env, BatchNormTrain));
  exports.Set("batchNormInfer", Napi::Function::New(env, BatchNormInfer));
  exports.Set("batchNormGrad", Napi::Function::New(env, BatchNormGrad));
}

}  // namespace supcon
