#include "common.h"

namespace supcon {

dnnl::engine& Engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& Stream() {
  static dnnl::stream stream(Engine());
  return stream;
}

float* F32(const Napi::CallbackInfo& info, size_t i, size_t* length) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(info.Env(), "Expected a Float32Array for argument " + std::to_string(i));
  }
  auto arr = v.As<Napi::Float32Array>();
  if (length) *length = arr.ElementLength();
  return arr.Data();
}

void CheckLength(const Napi::Env& env, const char* what, size_t n, size_t expected) {
  if (n != expected) {
    throw Napi::TypeError::New(env, std::string(what) + ": expected " + std::to_string(expected) +
                                        " elements, received " + std::to_string(n));
  }
}

std::vector<int64_t> Ints(const Napi::CallbackInfo& info, size_t i) {
  Napi::Value v = info[i];
  std::vector<int64_t> out;
  if (v.IsTypedArray()) {
    auto arr = v.As<Napi::TypedArray>();
    if (arr.TypedArrayType() == napi_int32_array) {
      auto a = v.As<Napi::Int32Array>();
      for (size_t k = 0; k < a.ElementLength(); k++) out.push_back(a[k]);
      return out;
    }
  }
  if (!v.IsArray()) {
    throw Napi::TypeError::New(info.Env(), "Expected an array of integers for argument " + std::to_string(i));
  }
  auto arr = v.As<Napi::Array>();
  for (uint32_t k = 0; k < arr.Length(); k++) out.push_back(arr.Get(k).As<Napi::Number>().Int64Value());
  return out;
}

double Num(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), "Expected a number for argument " + std::to_string(i));
  }
  return info[i].As<Napi::Number>().DoubleValue();
}

}  // namespace supcon
