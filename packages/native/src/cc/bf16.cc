// bf16 <-> fp32 conversion and the bf16 capability query (see bf16.h).
#include "bf16.h"

namespace supcon {

Buf AnyBuf(const Napi::CallbackInfo& info, size_t i, bool optional) {
  Napi::Value v = info[i];
  Buf b;
  if (v.IsTypedArray()) {
    auto arr = v.As<Napi::TypedArray>();
    if (arr.TypedArrayType() == napi_float32_array) {
      auto a = v.As<Napi::Float32Array>();
      b.data = a.Data();
      b.length = a.ElementLength();
      return b;
    }
    if (arr.TypedArrayType() == napi_uint16_array) {
      auto a = v.As<Napi::Uint16Array>();
      b.data = a.Data();
      b.length = a.ElementLength();
      b.bf16 = true;
      return b;
    }
  }
  if (optional && !v.IsTypedArray()) return b;
  throw Napi::TypeError::New(info.Env(), "Expected a Float32Array or a Uint16Array (bf16) for argument " +
                                             std::to_string(i));
}

bool Bf16Supported() {
  auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  return (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
}

bool AmxSupported() {
  auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  return (isa & dnnl_cpu_isa_avx512_core_amx) == dnnl_cpu_isa_avx512_core_amx;
}

void WidenBf16(const bf16_t* src, float* dst, int64_t n) {
  ParallelFor(n, 1 << 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) dst[i] = Load(src, i);
  });
}

void NarrowToBf16(const float* src, bf16_t* dst, int64_t n) {
  ParallelFor(n, 1 << 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) dst[i] = ToBf16(src[i]);
  });
}

bf16_t* Narrowed(const float* src, int64_t n, std::vector<bf16_t>& scratch) {
  if (scratch.size() < static_cast<size_t>(n)) scratch.resize(static_cast<size_t>(n));
  NarrowToBf16(src, scratch.data(), n);
  return scratch.data();
}

namespace {

// widenBf16(src: Uint16Array, dst: Float32Array)
Napi::Value Widen(const Napi::CallbackInfo& info) {
  Buf s = AnyBuf(info, 0), d = AnyBuf(info, 1);
  if (!s.bf16 || d.bf16 || s.length != d.length) {
    throw Napi::TypeError::New(info.Env(), "widenBf16: expected a Uint16Array and a Float32Array of equal length");
  }
  WidenBf16(s.h(), d.f(), static_cast<int64_t>(s.length));
  return info.Env().Undefined();
}

// narrowToBf16(src: Float32Array, dst: Uint16Array)
Napi::Value Narrow(const Napi::CallbackInfo& info) {
  Buf s = AnyBuf(info, 0), d = AnyBuf(info, 1);
  if (s.bf16 || !d.bf16 || s.length != d.length) {
    throw Napi::TypeError::New(info.Env(), "narrowToBf16: expected a Float32Array and a Uint16Array of equal length");
  }
  NarrowToBf16(s.f(), d.h(), static_cast<int64_t>(s.length));
  return info.Env().Undefined();
}

// addBf16(a, b, out): elementwise sum of two equal-length bf16 tensors (gradient accumulation).
Napi::Value AddBf16(const Napi::CallbackInfo& info) {
  Buf a = AnyBuf(info, 0), b = AnyBuf(info, 1), o = AnyBuf(info, 2);
  if (!a.bf16 || !b.bf16 || !o.bf16 || a.length != b.length || a.length != o.length) {
    throw Napi::TypeError::New(info.Env(), "addBf16: expected three Uint16Arrays of equal length");
  }
  const bf16_t* pa = a.h();
  const bf16_t* pb = b.h();
  bf16_t* po = o.h();
  ParallelFor(static_cast<int64_t>(a.length), 1 << 16, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; i++) po[i] = ToBf16(Load(pa, i) + Load(pb, i));
  });
  return info.Env().Undefined();
}

Napi::Value Supported(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), Bf16Supported()); }

}  // namespace

void InitBf16(Napi::Env env, Napi::Object exports) {
  exports.Set("bf16Supported", Napi::Function::New(env, Supported));
  exports.Set("widenBf16", Napi::Function::New(env, Widen));
  exports.Set("narrowToBf16", Napi::Function::New(env, Narrow));
  exports.Set("addBf16", Napi::Function::New(env, AddBf16));
}

}  // namespace supcon
