// The addon's export table: each source file registers its own functions.
#include <cstdlib>
#include <cstring>

#include "common.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace supcon {

// Kernel outputs are Buffer.allocUnsafeSlow memory, i.e. malloc. glibc serves large blocks
// (above 128 KiB, rising to at most 32 MiB) with a fresh mmap per allocation and munmaps them on
// free, so every activation-sized output faults all its pages in again (8 192 minor faults for a
// [128, 32, 32, 64] float32 tensor), and glibc trims freed memory at the top of the heap. This
// keeps large blocks on the heap and never trims it, so freed activations are reused in place.
// Process-wide; SUPCON_NATIVE_MALLOC=system leaves glibc's defaults. Returns what was done.
static std::string TuneAllocator() {
#ifdef __GLIBC__
  const char* env = std::getenv("SUPCON_NATIVE_MALLOC");
  if (env && std::strcmp(env, "system") == 0) return "system";
  if (mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, -1) == 1) return "heap";
  return "failed";
#else
  return "system";
#endif
}

static std::string allocatorMode;

static Napi::Value AllocatorMode(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), allocatorMode);
}

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
  allocatorMode = TuneAllocator();
  exports.Set("allocatorMode", Napi::Function::New(env, AllocatorMode));
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
  InitOptim(env, exports);
  InitBf16(env, exports);
  InitTranspose(env, exports);
  InitTransformer(env, exports);
  InitAttention(env, exports);
  return exports;
}

}  // namespace supcon

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return supcon::Init(env, exports); }

NODE_API_MODULE(supcon_native, InitAddon)
