// Elementwise kernels: broadcasting binary ops, unary maths, and the ReLU gradient.
// Broadcasting is resolved once per call into per-dimension strides (0 on broadcast axes) after
// merging adjacent dimensions, so the inner loop is a plain strided loop the compiler vectorises.
#include <cmath>

#include "common.h"

namespace supcon {
namespace {

enum BinaryOp { kAdd, kSub, kMul, kDiv, kMax, kMin, kSquaredDiff, kPow };

template <int Op>
inline float Apply(float a, float b) {
  if constexpr (Op == kAdd) return a + b;
  if constexpr (Op == kSub) return a - b;
  if constexpr (Op == kMul) return a * b;
  if constexpr (Op == kDiv) return a / b;
  if constexpr (Op == kMax) return (a > b || std::isnan(a)) ? a : b;
  if constexpr (Op == kMin) return (a < b || std::isnan(a)) ? a : b;
  if constexpr (Op == kSquaredDiff) return (a - b) * (a - b);
  if constexpr (Op == kPow) return std::pow(a, b);
  return 0.f;
}

// Inner loop over n elements with strides sa, sb in {0, 1}.
template <int Op>
inline void Inner(const float* a, int64_t sa, const float* b, int64_t sb, float* out, int64_t n) {
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; i++) out[i] = Apply<Op>(a[i], b[i]);
  } else if (sa == 1) {
    float bv = b[0];
    for (int64_t i = 0; i < n; i++) out[i] = Apply<Op>(a[i], bv);
  } else if (sb == 1) {
    float av = a[0];
    for (int64_t i = 0; i < n; i++) out[i] = Apply<Op>(av, b[i]);
  } else {
    float v = Apply<Op>(a[0], b[0]);
    for (int64_t i = 0; i < n; i++) out[i] = v;
  }
}

struct Broadcast {
  // Merged output dims and the element strides of a and b along them (0 = broadcast).
  std::vector<int64_t> dims, sa, sb;
};

Broadcast Plan(const std::vector<int64_t>& as, const std::vector<int64_t>& bs, const std::vector<int64_t>& os) {
  size_t r = os.size();
  std::vector<int64_t> da(r, 1), db(r, 1);
  for (size_t i = 0; i < as.size(); i++) da[r - as.size() + i] = as[i];
  for (size_t i = 0; i < bs.size(); i++) db[r - bs.size() + i] = bs[i];
  std::vector<int64_t> stA(r), stB(r);
  int64_t acc = 1, bcc = 1;
  for (size_t i = r; i-- > 0;) {
    stA[i] = da[i] == 1 ? 0 : acc;
    stB[i] = db[i] == 1 ? 0 : bcc;
    acc *= da[i];
    bcc *= db[i];
  }
  Broadcast p;
  for (size_t i = 0; i < r; i++) {
    if (os[i] == 1) continue;
    bool aBroad = stA[i] == 0, bBroad = stB[i] == 0;
    if (!p.dims.empty() && (p.sa.back() == 0) == aBroad && (p.sb.back() == 0) == bBroad) {
      // Merge with the previous dimension: contiguous in both inputs (or broadcast in both).
      p.dims.back() *= os[i];
      p.sa.back() = stA[i];
      p.sb.back() = stB[i];
      continue;
    }
    p.dims.push_back(os[i]);
    p.sa.push_back(stA[i]);
    p.sb.push_back(stB[i]);
  }
  if (p.dims.empty()) {
    p.dims = {1};
    p.sa = {0};
    p.sb = {0};
  }
  return p;
}

template <int Op>
void RunBinary(const float* a, const float* b, float* out, const Broadcast& p) {
  size_t r = p.dims.size();
  int64_t inner = p.dims[r - 1];
  int64_t isa = p.sa[r - 1] ? 1 : 0, isb = p.sb[r - 1] ? 1 : 0;
  int64_t outer = 1;
  for (size_t i = 0; i + 1 < r; i++) outer *= p.dims[i];
  if (outer == 1) {
    ParallelFor(inner, 16384, [&](int64_t s, int64_t e) {
      Inner<Op>(a + s * isa, isa, b + s * isb, isb, out + s, e - s);
    });
    return;
  }
  ParallelFor(outer, std::max<int64_t>(1, 16384 / inner), [&](int64_t s, int64_t e) {
    for (int64_t o = s; o < e; o++) {
      int64_t offA = 0, offB = 0, rem = o;
      for (size_t i = r - 1; i-- > 0;) {
        int64_t idx = rem % p.dims[i];
        rem /= p.dims[i];
        offA += idx * p.sa[i];
        offB += idx * p.sb[i];
      }
      Inner<Op>(a + offA, isa, b + offB, isb, out + o * inner, inner);
    }
  });
}

// binary(op, a, aShape, b, bShape, out, outShape)
Napi::Value Binary(const Napi::CallbackInfo& info) {
  int op = static_cast<int>(Num(info, 0));
  float* a = F32(info, 1);
  float* b = F32(info, 3);
  float* out = F32(info, 5);
  Broadcast p = Plan(Ints(info, 2), Ints(info, 4), Ints(info, 6));
  switch (op) {
    case kAdd: RunBinary<kAdd>(a, b, out, p); break;
    case kSub: RunBinary<kSub>(a, b, out, p); break;
    case kMul: RunBinary<kMul>(a, b, out, p); break;
    case kDiv: RunBinary<kDiv>(a, b, out, p); break;
    case kMax: RunBinary<kMax>(a, b, out, p); break;
    case kMin: RunBinary<kMin>(a, b, out, p); break;
    case kSquaredDiff: RunBinary<kSquaredDiff>(a, b, out, p); break;
    case kPow: RunBinary<kPow>(a, b, out, p); break;
    default: throw Napi::Error::New(info.Env(), "binary: unknown op " + std::to_string(op));
  }
  return info.Env().Undefined();
}

enum UnaryOp { kExp, kLog, kNeg, kSqrt, kRsqrt, kSquare, kAbs, kRelu, kSigmoid, kTanh, kReciprocal, kLog1p, kExpm1 };

template <int Op>
inline float Unary1(float x) {
  if constexpr (Op == kExp) return std::exp(x);
  if constexpr (Op == kLog) return std::log(x);
  if constexpr (Op == kNeg) return -x;
  if constexpr (Op == kSqrt) return std::sqrt(x);
  if constexpr (Op == kRsqrt) return 1.f / std::sqrt(x);
  if constexpr (Op == kSquare) return x * x;
  if constexpr (Op == kAbs) return std::fabs(x);
  if constexpr (Op == kRelu) return x > 0.f ? x : (std::isnan(x) ? x : 0.f);
  if constexpr (Op == kSigmoid) return 1.f / (1.f + std::exp(-x));
  if constexpr (Op == kTanh) return std::tanh(x);
  if constexpr (Op == kReciprocal) return 1.f / x;
  if constexpr (Op == kLog1p) return std::log1p(x);
  if constexpr (Op == kExpm1) return std::expm1(x);
  return 0.f;
}

template <int Op>
void RunUnary(const float* x, float* out, int64_t n) {
  ParallelFor(n, 16384, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; i++) out[i] = Unary1<Op>(x[i]);
  });
}

// unary(op, x, out)
Napi::Value Unary(const Napi::CallbackInfo& info) {
  int op = static_cast<int>(Num(info, 0));
  size_t n;
  float* x = F32(info, 1, &n);
  float* out = F32(info, 2);
  int64_t len = static_cast<int64_t>(n);
  switch (op) {
    case kExp: RunUnary<kExp>(x, out, len); break;
    case kLog: RunUnary<kLog>(x, out, len); break;
    case kNeg: RunUnary<kNeg>(x, out, len); break;
    case kSqrt: RunUnary<kSqrt>(x, out, len); break;
    case kRsqrt: RunUnary<kRsqrt>(x, out, len); break;
    case kSquare: RunUnary<kSquare>(x, out, len); break;
    case kAbs: RunUnary<kAbs>(x, out, len); break;
    case kRelu: RunUnary<kRelu>(x, out, len); break;
    case kSigmoid: RunUnary<kSigmoid>(x, out, len); break;
    case kTanh: RunUnary<kTanh>(x, out, len); break;
    case kReciprocal: RunUnary<kReciprocal>(x, out, len); break;
    case kLog1p: RunUnary<kLog1p>(x, out, len); break;
    case kExpm1: RunUnary<kExpm1>(x, out, len); break;
    default: throw Napi::Error::New(info.Env(), "unary: unknown op " + std::to_string(op));
  }
  return info.Env().Undefined();
}

// reluGrad(dy, x, out): out = dy * (x > 0), one pass instead of tfjs's Step + Cast + Multiply.
Napi::Value ReluGrad(const Napi::CallbackInfo& info) {
  size_t n;
  float* dy = F32(info, 0, &n);
  float* x = F32(info, 1);
  float* out = F32(info, 2);
  ParallelFor(static_cast<int64_t>(n), 16384, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; i++) out[i] = x[i] > 0.f ? dy[i] : 0.f;
  });
  return info.Env().Undefined();
}

}  // namespace

void InitElementwise(Napi::Env env, Napi::Object exports) {
  exports.Set("binary", Napi::Function::New(env, Binary));
  exports.Set("unary", Napi::Function::New(env, Unary));
  exports.Set("reluGrad", Napi::Function::New(env, ReluGrad));
}

}  // namespace supcon
