// The SupCon loss's per-row pass (the native twin of packages/supcon/src/losses/host.ts): for each
// anchor row, from its logits S [N] and its sample's positive weights (uncapped U and capped W,
// [B] each), the loss, validity and dloss/dS. Rows run in parallel on the OpenMP threads.
#include <cmath>
#include <limits>

#include "common.h"

namespace supcon {

namespace {

inline double Softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

// kind: 1 positive, -1 negative, 0 neither. Returns 1 when the anchor had no positive.
int Row(const float* s, const float* u, const float* w, int64_t r, int64_t batch, int64_t views, int variant,
        int denominator, float* loss, float* valid, float* g, std::vector<int8_t>& kind, std::vector<double>& e,
        std::vector<double>& logY) {
  const int64_t n = batch * views;
  const bool denAll = denominator == 0;
  const bool onePositive = denominator == 1;
  double count = 0;
  int64_t negatives = 0;
  double maxPos = -std::numeric_limits<double>::infinity();
  double maxNeg = maxPos;
  for (int64_t v = 0, j = 0; v < views; v++) {
    for (int64_t b = 0; b < batch; b++, j++) {
      const double x = s[j];
      if (j == r) {
        kind[j] = 0;
      } else if (w[b] > 0) {
        kind[j] = 1;
        count += w[b];
        if (x > maxPos) maxPos = x;
      } else if (u[b] == 0) {
        kind[j] = -1;
        negatives++;
        if (x > maxNeg) maxNeg = x;
      } else {
        kind[j] = 0;
      }
    }
  }
  *loss = 0;
  *valid = 0;
  const int withoutPositives = count == 0 ? 1 : 0;
  if (count == 0 || (denominator == 2 && negatives == 0)) return withoutPositives;
  *valid = 1;

  const double mx = denAll ? std::max(maxPos, maxNeg) : maxNeg;
  double z = 0;
  for (int64_t j = 0; j < n; j++) {
    const int8_t k = kind[j];
    if (k == -1 || (denAll && k == 1)) {
      e[j] = std::exp(s[j] - mx);
      z += e[j];
    }
  }
  const bool hasD = z > 0;
  const double lse = hasD ? mx + std::log(z) : -std::numeric_limits<double>::infinity();

  const double invCount = 1 / count;
  double l = 0;
  double lseY = 0;
  if (variant == 0) {
    for (int64_t v = 0, j = 0; v < views; v++) {
      for (int64_t b = 0; b < batch; b++, j++) {
        if (kind[j] != 1) continue;
        l += w[b] * (onePositive ? (hasD ? Softplus(lse - s[j]) : 0) : lse - s[j]);
      }
    }
    l *= invCount;
  } else {
    double maxY = -std::numeric_limits<double>::infinity();
    for (int64_t v = 0, j = 0; v < views; v++) {
      for (int64_t b = 0; b < batch; b++, j++) {
        if (kind[j] != 1) continue;
        const double logProb = onePositive ? (hasD ? -Softplus(lse - s[j]) : 0) : s[j] - lse;
        logY[j] = logProb + std::log(double(w[b]));
        if (logY[j] > maxY) maxY = logY[j];
      }
    }
    double zY = 0;
    for (int64_t j = 0; j < n; j++)
      if (kind[j] == 1) zY += std::exp(logY[j] - maxY);
    lseY = maxY + std::log(zY);
    l = std::log(count) - lseY;
  }
  *loss = static_cast<float>(l);
  if (!g) return withoutPositives;

  const double invZ = hasD ? 1 / z : 0;
  if (!onePositive) {
    for (int64_t v = 0, j = 0; v < views; v++) {
      for (int64_t b = 0; b < batch; b++, j++) {
        const int8_t k = kind[j];
        if (k == 0) continue;
        double gj = (k == -1 || denAll) ? e[j] * invZ : 0;
        if (k == 1) gj -= variant == 0 ? w[b] * invCount : std::exp(logY[j] - lseY);
        g[j] = static_cast<float>(gj);
      }
    }
  } else {
    double sumBeta = 0;
    for (int64_t v = 0, j = 0; v < views; v++) {
      for (int64_t b = 0; b < batch; b++, j++) {
        if (kind[j] != 1) continue;
        const double wj = variant == 0 ? w[b] * invCount : std::exp(logY[j] - lseY);
        const double beta = hasD ? wj / (1 + std::exp(s[j] - lse)) : 0;
        g[j] = static_cast<float>(-beta);
        sumBeta += beta;
      }
    }
    for (int64_t j = 0; j < n; j++)
      if (kind[j] == -1) g[j] = static_cast<float>(e[j] * invZ * sumBeta);
  }
  return withoutPositives;
}

// supconRows(logits [b·N], uncapped [b·B], capped [b·B], rowStart, rows, batch, views, variant,
//            denominator, loss [b], valid [b], grad [b·N] | null) -> anchors without positives.
// grad must be zero-filled by the caller (entries that are neither positive nor negative stay 0).
Napi::Value SupconRows(const Napi::CallbackInfo& info) {
  size_t logitsLength = 0, uLength = 0, wLength = 0, lossLength = 0, validLength = 0;
  const float* logits = F32(info, 0, &logitsLength);
  const float* uncapped = F32(info, 1, &uLength);
  const float* capped = F32(info, 2, &wLength);
  const int64_t rowStart = static_cast<int64_t>(Num(info, 3));
  const int64_t rows = static_cast<int64_t>(Num(info, 4));
  const int64_t batch = static_cast<int64_t>(Num(info, 5));
  const int64_t views = static_cast<int64_t>(Num(info, 6));
  const int variant = static_cast<int>(Num(info, 7));
  const int denominator = static_cast<int>(Num(info, 8));
  float* loss = F32(info, 9, &lossLength);
  float* valid = F32(info, 10, &validLength);
  float* grad = info[11].IsNull() || info[11].IsUndefined() ? nullptr : F32(info, 11);
  const int64_t n = batch * views;
  const Napi::Env env = info.Env();
  if (rows < 0 || batch <= 0 || views <= 0 || variant < 0 || variant > 1 || denominator < 0 || denominator > 2) {
    throw Napi::TypeError::New(env, "supconRows: expected rows >= 0, batch and views > 0, variant 0|1, denominator 0|1|2");
  }
  CheckLength(env, "supconRows logits", logitsLength, size_t(rows * n));
  CheckLength(env, "supconRows uncapped", uLength, size_t(rows * batch));
  CheckLength(env, "supconRows capped", wLength, size_t(rows * batch));
  CheckLength(env, "supconRows loss", lossLength, size_t(rows));
  CheckLength(env, "supconRows valid", validLength, size_t(rows));
  if (grad) CheckLength(env, "supconRows grad", info[11].As<Napi::Float32Array>().ElementLength(), size_t(rows * n));
  std::vector<int> without(rows, 0);
  ParallelFor(rows, 8, [&](int64_t begin, int64_t end) {
    std::vector<int8_t> kind(n);
    std::vector<double> e(n), logY(n);
    for (int64_t i = begin; i < end; i++) {
      without[i] = Row(logits + i * n, uncapped + i * batch, capped + i * batch, rowStart + i, batch, views, variant,
                       denominator, loss + i, valid + i, grad ? grad + i * n : nullptr, kind, e, logY);
    }
  });
  int total = 0;
  for (int x : without) total += x;
  return Napi::Number::New(info.Env(), total);
}

}  // namespace

void InitSupconRows(Napi::Env env, Napi::Object exports) {
  exports.Set("supconRows", Napi::Function::New(env, SupconRows));
}

}  // namespace supcon
