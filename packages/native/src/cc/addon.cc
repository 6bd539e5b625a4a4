// The addon's export table: each source file registers its own functions.
#include "common.h"

namespace supcon {

static Napi::Value Version(const Napi::CallbackInfo& info) {
  const dnnl_version_t* v = dnnl_version();
  return Napi::String::New(info.Env(), std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                                           std::to_string(v->patch));
}

static Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  omp_set_num_threads(static_cast<int>(Num(info, 0)));
  return info.Env().Undefined();
}

static Napi::Value NumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), omp_get_max_threads());
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("dnnlVersion", Napi::Function::New(env, Version));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  exports.Set("numThreads", Napi::Function::New(env, NumThreads));
  InitConv(env, exports);
  InitMatMul(env, exports);
  InitBatchNorm(env, exports);
  InitElementwise(env, exports);
  InitReduce(env, exports);
  InitPool(env, exports);
  InitSupconRows(env, exports);
  return exports;
}

}  // namespace supcon

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return supcon::Init(env, exports); }

NODE_API_MODULE(supcon_native, InitAddon)
