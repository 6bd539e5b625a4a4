// Shared helpers for the addon: argument unpacking with clear errors, the oneDNN engine and
// stream, and a small parallel-for on OpenMP (the same runtime oneDNN uses).
#pragma once
#include <napi.h>
#include <omp.h>

#include <cstdint>
#include <dnnl.hpp>
#include <string>
#include <vector>

namespace supcon {

dnnl::engine& Engine();
dnnl::stream& Stream();

// Reads argument `i` as a Float32Array and returns its data pointer and length.
float* F32(const Napi::CallbackInfo& info, size_t i, size_t* length = nullptr);
// Reads argument `i` as an array (or typed array) of integers.
std::vector<int64_t> Ints(const Napi::CallbackInfo& info, size_t i);
double Num(const Napi::CallbackInfo& info, size_t i);
// Every array argument's length is checked against the length its shape arguments imply, here:
// throws "<what>: expected <expected> elements, received <n>" (a TypeError in JavaScript).
void CheckLength(const Napi::Env& env, const char* what, size_t n, size_t expected);

// Runs body(begin, end) over [0, n) on the OpenMP threads when n is large enough to pay.
template <typename F>
inline void ParallelFor(int64_t n, int64_t grain, F body) {
  int threads = omp_get_max_threads();
  if (n < grain * 2 || threads <= 1) {
    body(int64_t(0), n);
    return;
  }
#pragma omp parallel
  {
    int t = omp_get_thread_num();
    int nt = omp_get_num_threads();
    int64_t chunk = (n + nt - 1) / nt;
    int64_t b = t * chunk;
    int64_t e = b + chunk < n ? b + chunk : n;
    if (b < e) body(b, e);
  }
}

// 64-byte aligned storage of at least `bytes` inside `buffer`, which grows as needed (each file keeps
// its own buffers per argument role; calls come one at a time from JavaScript).
inline void* AlignedScratch(std::vector<uint8_t>& buffer, size_t bytes) {
  if (buffer.size() < bytes + 64) buffer.resize(bytes + 64);
  auto p = reinterpret_cast<uintptr_t>(buffer.data());
  return reinterpret_cast<void*>((p + 63) & ~uintptr_t{63});
}

// Row softmax of transformer.cc, shared with attention.cc: y = softmax(scale · x) over rows of n,
// and its gradient dx = scale · y ⊙ (dy − Σ dy ⊙ y). Outputs must not alias inputs.
void ScaledSoftmaxRows(const float* x, int64_t rows, int64_t n, float scale, float* y);
void ScaledSoftmaxRowsGrad(const float* dy, const float* y, int64_t rows, int64_t n, float scale, float* dx);
// db[c] = Σ_r dy[r, c] over rows of N (fp32 or bf16 dy; float partial sums per 64 rows, totals in
// double), and with `narrowed` non-null dy's bf16 copy written in the same pass (transformer.cc: the
// linear layers' bias gradient, matmul.cc's linearGrad).
void ColumnSums(const float* dy, int64_t rows, int64_t N, float* db, uint16_t* narrowed);
void ColumnSums(const uint16_t* dy, int64_t rows, int64_t N, float* db);

// Module registration hooks, one per source file.
void InitConv(Napi::Env env, Napi::Object exports);
void InitMatMul(Napi::Env env, Napi::Object exports);
void InitBatchNorm(Napi::Env env, Napi::Object exports);
void InitElementwise(Napi::Env env, Napi::Object exports);
void InitReduce(Napi::Env env, Napi::Object exports);
void InitPool(Napi::Env env, Napi::Object exports);
void InitSupconRows(Napi::Env env, Napi::Object exports);
void InitOptim(Napi::Env env, Napi::Object exports);
void InitBf16(Napi::Env env, Napi::Object exports);
void InitTranspose(Napi::Env env, Napi::Object exports);
void InitTransformer(Napi::Env env, Napi::Object exports);
void InitAttention(Napi::Env env, Napi::Object exports);

}  // namespace supcon
