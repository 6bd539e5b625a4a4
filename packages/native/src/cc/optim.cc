// Fused optimiser updates, in place on the parameter and its slot buffers: one pass over memory
// per parameter instead of five or more out-of-place tfjs ops. The arithmetic is float32 in the
// same order as the ops the optimisers in packages/supcon/src/optim compose (their JS path), so
// both paths agree to rounding; constants arrive as doubles and are rounded to float32 here, as
// tfjs rounds the scalars it multiplies by.
#include <cmath>

#include "common.h"

namespace supcon {
namespace {

constexpr int64_t kGrain = 1 << 14;


// sgdUpdate(p, g, buf|null, lr, momentum, dampening, weightDecay, nesterov, first)
//   d = g + λ·p;  b = first ? d : μ·b + (1 − dampening)·d;  d = nesterov ? d + μ·b : b;  p -= lr·d
Napi::Value SgdUpdate(const Napi::CallbackInfo& info) {
  size_t n = 0, ng = 0, nb = 0;
  float* p = F32(info, 0, &n);
  const float* g = F32(info, 1, &ng);
  bool momentum = info[2].IsTypedArray();
  float* b = momentum ? F32(info, 2, &nb) : nullptr;
  CheckLength(info.Env(), "sgdUpdate grad", ng, n);
  if (momentum) CheckLength(info.Env(), "sgdUpdate momentum", nb, n);
  const float lr = static_cast<float>(Num(info, 3));
  const float mu = static_cast<float>(Num(info, 4));
  const double dampening = Num(info, 5);
  const float keep = static_cast<float>(1.0 - dampening);
  const float wd = static_cast<float>(Num(info, 6));
  const bool nesterov = info[7].ToBoolean();
  const bool first = info[8].ToBoolean();
  ParallelFor(static_cast<int64_t>(n), kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
      float d = wd != 0.f ? g[i] + p[i] * wd : g[i];
      if (b) {
        // dampening 0 skips the multiply by 1 (the JS path does the same).
        float bi = first ? d : (dampening != 0.0 ? b[i] * mu + d * keep : b[i] * mu + d);
        b[i] = bi;
        d = nesterov ? d + bi * mu : bi;
      }
      p[i] = p[i] - d * lr;
    }
  });
  return info.Env().Undefined();
}

// Sum of squares in double, as the native Sum reduction accumulates.
double SumSquares(const float* x, size_t n) {
  double total = 0;
#pragma omp parallel for reduction(+ : total) if (n >= 2 * kGrain)
  for (int64_t i = 0; i < static_cast<int64_t>(n); i++) total += static_cast<double>(x[i]) * x[i];
  return total;
}

// larsUpdate(p, g, v, lr, momentum, weightDecay, eta, nesterov, adapt, first)
//   adapt: g = g + λ·p;  trust = η‖p‖/‖g‖ (1 when either norm is 0);  s = lr·trust (else s = lr)
//   step = s·g;  v = first ? step : μ·v + step;  p -= nesterov ? μ·v + step : v
// The decayed gradient is formed twice (norm pass, update pass) rather than stored.
Napi::Value LarsUpdate(const Napi::CallbackInfo& info) {
  size_t n = 0, ng = 0, nv = 0;
  float* p = F32(info, 0, &n);
  const float* g = F32(info, 1, &ng);
  float* v = F32(info, 2, &nv);
  CheckLength(info.Env(), "larsUpdate grad", ng, n);
  CheckLength(info.Env(), "larsUpdate momentum", nv, n);
  const float lr = static_cast<float>(Num(info, 3));
  const float mu = static_cast<float>(Num(info, 4));
  const float wd = static_cast<float>(Num(info, 5));
  const float eta = static_cast<float>(Num(info, 6));
  const bool nesterov = info[7].ToBoolean();
  const bool adapt = info[8].ToBoolean();
  const bool first = info[9].ToBoolean();
  const bool decay = adapt && wd != 0.f;
  float scaled = lr;
  if (adapt) {
    double gg = 0;
    if (decay) {
#pragma omp parallel for reduction(+ : gg) if (n >= 2 * kGrain)
      for (int64_t i = 0; i < static_cast<int64_t>(n); i++) {
        float d = g[i] + p[i] * wd;
        gg += static_cast<double>(d) * d;
      }
    } else {
      gg = SumSquares(g, n);
    }
    const float wNorm = static_cast<float>(std::sqrt(SumSquares(p, n)));
    const float gNorm = static_cast<float>(std::sqrt(gg));
    const float ratio = (wNorm * eta) / std::max(gNorm, 1e-30f);
    scaled = (wNorm > 0.f && gNorm > 0.f ? ratio : 1.f) * lr;
  }
  ParallelFor(static_cast<int64_t>(n), kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
      const float d = decay ? g[i] + p[i] * wd : g[i];
      const float step = d * scaled;
      const float vi = first ? step : v[i] * mu + step;
      v[i] = vi;
      p[i] = p[i] - (nesterov ? vi * mu + step : vi);
    }
  });
  return info.Env().Undefined();
}

// adamUpdate(p, g, m, v, first, decayMode (0 none, 1 L2, 2 decoupled), weightDecay, shrink,
//            oneMinusBeta1, oneMinusBeta2, beta1, beta2, sqrtCorrection2, epsilon, stepSize)
//   decoupled: p = p·shrink (shrink = 1 − lr·λ);  L2: g = g + λ·p
//   m = β1·m + (1 − β1)·g;  v = β2·v + (1 − β2)·g²  (m = v = 0 before the first step)
//   p = p − (m / (√v / √c2 + ε))·stepSize  (stepSize = lr / c1)
Napi::Value AdamUpdate(const Napi::CallbackInfo& info) {
  size_t n = 0, ng = 0, nm = 0, nv = 0;
  float* p = F32(info, 0, &n);
  const float* g = F32(info, 1, &ng);
  float* m = F32(info, 2, &nm);
  float* v = F32(info, 3, &nv);
  CheckLength(info.Env(), "adamUpdate grad", ng, n);
  CheckLength(info.Env(), "adamUpdate m", nm, n);
  CheckLength(info.Env(), "adamUpdate v", nv, n);
  const bool first = info[4].ToBoolean();
  const int decayMode = static_cast<int>(Num(info, 5));
  const float wd = static_cast<float>(Num(info, 6));
  const float shrink = static_cast<float>(Num(info, 7));
  const float c1m = static_cast<float>(Num(info, 8));
  const float c2m = static_cast<float>(Num(info, 9));
  const float b1 = static_cast<float>(Num(info, 10));
  const float b2 = static_cast<float>(Num(info, 11));
  const float sqrtC2 = static_cast<float>(Num(info, 12));
  const float eps = static_cast<float>(Num(info, 13));
  const float stepSize = static_cast<float>(Num(info, 14));
  ParallelFor(static_cast<int64_t>(n), kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
      float w = decayMode == 2 ? p[i] * shrink : p[i];
      const float gi = decayMode == 1 ? g[i] + w * wd : g[i];
      const float mi = (first ? 0.f : m[i] * b1) + gi * c1m;
      const float vi = (first ? 0.f : v[i] * b2) + (gi * gi) * c2m;
      m[i] = mi;
      v[i] = vi;
      const float denom = std::sqrt(vi) / sqrtC2 + eps;
      p[i] = w - (mi / denom) * stepSize;
    }
  });
  return info.Env().Undefined();
}

}  // namespace

void InitOptim(Napi::Env env, Napi::Object exports) {
  exports.Set("sgdUpdate", Napi::Function::New(env, SgdUpdate));
  exports.Set("larsUpdate", Napi::Function::New(env, LarsUpdate));
  exports.Set("adamUpdate", Napi::Function::New(env, AdamUpdate));
}

}  // namespace supcon
