// Reductions (sum, mean, max, min, prod) over any set of axes, and softmax over the last axis.
// Adjacent axes of the same kind (kept/reduced) are merged, then one strided walk covers the
// input once: an innermost reduced axis accumulates into a scalar, an innermost kept axis adds a
// row into the output. Sums accumulate in double so long reductions keep float precision.
#include <cmath>
#include <limits>

#include "common.h"

namespace supcon {
namespace {

enum ReduceOp { kSum, kMean, kMax, kMin, kProd };

// reduce(op, x, shape, reduceMask (1 = reduced axis), out)
Napi::Value Reduce(const Napi::CallbackInfo& info) {
  int op = static_cast<int>(Num(info, 0));
  float* x = F32(info, 1);
  auto shape = Ints(info, 2);
  auto mask = Ints(info, 3);
  size_t outLen;
  float* out = F32(info, 4, &outLen);
  // Merge axes: dims with their kind.
  std::vector<int64_t> dims;
  std::vector<bool> red;
  int64_t total = 1, count = 1;
  for (size_t i = 0; i < shape.size(); i++) {
    total *= shape[i];
    if (mask[i]) count *= shape[i];
    if (shape[i] == 1) continue;
    if (!dims.empty() && red.back() == (mask[i] != 0)) {
      dims.back() *= shape[i];
    } else {
      dims.push_back(shape[i]);
      red.push_back(mask[i] != 0);
    }
  }
  if (dims.empty()) {
    dims.push_back(1);
    red.push_back(true);
  }
  // Output strides for each merged dim (0 on reduced dims).
  size_t r = dims.size();
  std::vector<int64_t> ostride(r, 0);
  int64_t acc = 1;
  for (size_t i = r; i-- > 0;) {
    if (!red[i]) {
      ostride[i] = acc;
      acc *= dims[i];
    }
  }
  bool isSum = op == kSum || op == kMean;
  double init = op == kMax ? -std::numeric_limits<double>::infinity()
                : op == kMin ? std::numeric_limits<double>::infinity()
                : op == kProd ? 1.0
                              : 0.0;
  std::vector<double> buf(outLen, init);
  int64_t inner = dims[r - 1];
  bool innerReduced = red[r - 1];
  int64_t outer = total / inner;
  std::vector<int64_t> idx(r, 0);
  const float* xp = x;
  for (int64_t o = 0; o < outer; o++, xp += inner) {
    int64_t off = 0;
    for (size_t i = 0; i + 1 < r; i++) off += idx[i] * ostride[i];
    if (innerReduced) {
      double a = buf[off];
      if (isSum) {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int64_t k = 0;
        for (; k + 4 <= inner; k += 4) {
          s0 += xp[k];
          s1 += xp[k + 1];
          s2 += xp[k + 2];
          s3 += xp[k + 3];
        }
        for (; k < inner; k++) s0 += xp[k];
        a += (s0 + s1) + (s2 + s3);
      } else {
        for (int64_t k = 0; k < inner; k++) {
          double v = xp[k];
          if (op == kMax) a = (v > a || std::isnan(v)) ? v : a;
          else if (op == kMin) a = (v < a || std::isnan(v)) ? v : a;
          else a *= v;
        }
      }
      buf[off] = a;
    } else {
      double* b = &buf[off];
      if (isSum) {
        for (int64_t k = 0; k < inner; k++) b[k] += xp[k];
      } else {
        for (int64_t k = 0; k < inner; k++) {
          double v = xp[k];
          if (op == kMax) b[k] = (v > b[k] || std::isnan(v)) ? v : b[k];
          else if (op == kMin) b[k] = (v < b[k] || std::isnan(v)) ? v : b[k];
          else b[k] *= v;
        }
      }
    }
    for (size_t i = r - 1; i-- > 0;) {
      if (++idx[i] < dims[i]) break;
      idx[i] = 0;
    }
  }
  double scale = op == kMean ? 1.0 / static_cast<double>(count) : 1.0;
  for (size_t k = 0; k < outLen; k++) out[k] = static_cast<float>(buf[k] * scale);
  return info.Env().Undefined();
}

// softmax(x, cols, out): softmax over the last axis of a [rows, cols] array.
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  size_t n;
  float* x = F32(info, 0, &n);
  int64_t cols = static_cast<int64_t>(Num(info, 1));
  float* out = F32(info, 2);
  int64_t rows = static_cast<int64_t>(n) / cols;
  ParallelFor(rows, std::max<int64_t>(1, 4096 / cols), [&](int64_t s, int64_t e) {
    for (int64_t r = s; r < e; r++) {
      const float* xr = x + r * cols;
      float* yr = out + r * cols;
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t c = 0; c < cols; c++) m = xr[c] > m ? xr[c] : m;
      double sum = 0;
      for (int64_t c = 0; c < cols; c++) {
        yr[c] = std::exp(xr[c] - m);
        sum += yr[c];
      }
      float inv = static_cast<float>(1.0 / sum);
      for (int64_t c = 0; c < cols; c++) yr[c] *= inv;
    }
  });
  return info.Env().Undefined();
}

}  // namespace

void InitReduce(Napi::Env env, Napi::Object exports) {
  exports.Set("reduce", Napi::Function::New(env, Reduce));
  exports.Set("softmax", Napi::Function::New(env, Softmax));
}

}  // namespace supcon
