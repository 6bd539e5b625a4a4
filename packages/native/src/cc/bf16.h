// bf16 storage inside the native engine: a float32 tensor may be stored as the upper 16 bits of
// each float (bfloat16), which JavaScript sees as a Uint16Array. Widening is exact; narrowing
// rounds to nearest even (NaN stays NaN). Kernels that take either storage read their tensor
// arguments as `Buf` and are written once over the element type with Load/Store.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#include "common.h"

namespace supcon {

using bf16_t = uint16_t;

inline float Load(const float* p, int64_t i) { return p[i]; }
inline float Load(const bf16_t* p, int64_t i) {
  uint32_t u = static_cast<uint32_t>(p[i]) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline bf16_t ToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<bf16_t>((u >> 16) | 0x40u);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest, ties to even
  return static_cast<bf16_t>(u >> 16);
}

inline void Store(float* p, int64_t i, float v) { p[i] = v; }
inline void Store(bf16_t* p, int64_t i, float v) { p[i] = ToBf16(v); }

// A tensor argument: a Float32Array (fp32 storage) or a Uint16Array (bf16 storage).
struct Buf {
  void* data = nullptr;
  size_t length = 0;
  bool bf16 = false;
  float* f() const { return static_cast<float*>(data); }
  bf16_t* h() const { return static_cast<bf16_t*>(data); }
};

// Reads argument `i` as a Float32Array or Uint16Array; a non-typed-array (null) gives an empty Buf
// when `optional`, and an error otherwise.
Buf AnyBuf(const Napi::CallbackInfo& info, size_t i, bool optional = false);

// Whether oneDNN runs bf16 convolutions natively on this CPU (avx512_core_bf16 or AMX).
bool Bf16Supported();

// Whether oneDNN runs bf16 on AMX tiles here (Intel Sapphire Rapids and later); without AMX, bf16
// runs on the AVX-512 vector units (avx512_core_bf16: AMD Zen 4/5, Intel Cooper Lake).
bool AmxSupported();

void WidenBf16(const bf16_t* src, float* dst, int64_t n);
void NarrowToBf16(const float* src, bf16_t* dst, int64_t n);
// n floats of `src` narrowed into `scratch` (grown as needed); returns its data.
bf16_t* Narrowed(const float* src, int64_t n, std::vector<bf16_t>& scratch);

}  // namespace supcon
