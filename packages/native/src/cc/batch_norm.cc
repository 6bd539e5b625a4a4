// Batch normalisation over the last (channel) axis as one fused kernel, forward and backward,
// with optional fused residual add and ReLU: y = relu(gamma * (x - mean) / sqrt(var + eps) + beta + r).
// tfjs builds a ~25-op gradient graph per BN layer; this replaces it with two passes over the data.
// Inputs are treated as [rows, C] (NHWC flattened). Statistics are accumulated in double.
#include <cmath>

#include "common.h"

namespace supcon {
namespace {

// Per-channel sums of `a` (and of a * b when b is given) over rows, accumulated in double on
// all OpenMP threads. When mask is given, a is multiplied by (mask > 0) first.
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
    for (int64_t r = r0; r < r1; r++) {
      const float* ar = a + r * C;
      const float* mr = mask ? mask + r * C : nullptr;
      const float* br = b ? b + r * C : nullptr;
      for (int64_t c = 0; c < C; c++) {
        float v = ar[c];
        if (mr && !(mr[c] > 0.f)) v = 0.f;
        p1[c] += v;
        if (br) {
          p2[c] += static_cast<double>(v) * (br[c] - center[c]);
        } else {
          p2[c] += static_cast<double>(v) * v;
        }
      }
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
void Normalise(const float* x, const float* residual, const std::vector<float>& scale,
               const std::vector<float>& shift, bool relu, int64_t rows, int64_t C, float* y) {
  ParallelFor(rows, 256, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const float* xr = x + r * C;
      const float* rr = residual ? residual + r * C : nullptr;
      float* yr = y + r * C;
      for (int64_t c = 0; c < C; c++) {
        float v = xr[c] * scale[c] + shift[c];
        if (rr) v += rr[c];
        if (relu) v = v > 0.f ? v : 0.f;
        yr[c] = v;
      }
    }
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
    for (int64_t r = r0; r < r1; r++) {
      const float* dyr = dy + r * C;
      const float* xr = x + r * C;
      const float* yr = y ? y + r * C : nullptr;
      float* dxr = dx + r * C;
      float* drr = dres ? dres + r * C : nullptr;
      for (int64_t c = 0; c < C; c++) {
        float g = dyr[c];
        if (yr && !(yr[c] > 0.f)) g = 0.f;
        if (drr) drr[c] = g;
        dxr[c] = a[c] * g - b[c] - (xr[c] - mean[c]) * k[c];
      }
    }
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
