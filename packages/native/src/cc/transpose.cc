// Transpose of a float32 tensor by any permutation: out[i0..ik] = in[i_perm...]. Adjacent axes
// that stay adjacent are merged first, then the output is written in order while an odometer walks
// the input strides, so the innermost loop is one strided read per element.
#include "common.h"

namespace supcon {
namespace {

// transpose(x, shape, perm, out)
Napi::Value Transpose(const Napi::CallbackInfo& info) {
  size_t n;
  const float* x = F32(info, 0, &n);
  std::vector<int64_t> shape = Ints(info, 1), perm = Ints(info, 2);
  float* out = F32(info, 3);
  const size_t rank = shape.size();
  if (perm.size() != rank) throw Napi::Error::New(info.Env(), "transpose: perm and shape differ in length");
  std::vector<int64_t> inStride(rank, 1);
  for (size_t i = rank; i-- > 1;) inStride[i - 1] = inStride[i] * shape[i];
  // Output axes with their extent and input stride, merging runs that are contiguous in the input.
  std::vector<int64_t> dims, strides;
  for (size_t o = 0; o < rank; o++) {
    int64_t axis = perm[o];
    if (axis < 0 || static_cast<size_t>(axis) >= rank) throw Napi::Error::New(info.Env(), "transpose: bad perm");
    if (shape[axis] == 1) continue;
    if (!strides.empty() && strides.back() == inStride[axis] * shape[axis]) {
      dims.back() *= shape[axis];
      strides.back() = inStride[axis];
    } else {
      dims.push_back(shape[axis]);
      strides.push_back(inStride[axis]);
    }
  }
  if (dims.empty()) {
    if (n > 0) out[0] = x[0];
    return info.Env().Undefined();
  }
  const int64_t inner = dims.back(), innerStride = strides.back(), outer = static_cast<int64_t>(n) / inner;
  const size_t k = dims.size() - 1;
  ParallelFor(outer, 64, [&](int64_t b, int64_t e) {
    std::vector<int64_t> idx(k, 0);
    int64_t rem = b, base = 0;
    for (size_t d = k; d-- > 0;) {
      idx[d] = rem % dims[d];
      rem /= dims[d];
      base += idx[d] * strides[d];
    }
    for (int64_t r = b; r < e; r++) {
      float* o = out + r * inner;
      const float* src = x + base;
      for (int64_t i = 0; i < inner; i++) o[i] = src[i * innerStride];
      for (size_t d = k; d-- > 0;) {  // odometer step over the outer axes
        base += strides[d];
        if (++idx[d] < dims[d]) break;
        base -= strides[d] * dims[d];
        idx[d] = 0;
      }
    }
  });
  return info.Env().Undefined();
}

}  // namespace

void InitTranspose(Napi::Env env, Napi::Object exports) {
  exports.Set("transpose", Napi::Function::New(env, Transpose));
}

}  // namespace supcon
