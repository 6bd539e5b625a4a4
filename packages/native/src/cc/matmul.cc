// Batched matrix multiplication on oneDNN's matmul primitive. Transposes are expressed as
// strides, so no copy is made; a batch of 1 on either side broadcasts. An optional bias over
// the last dimension and a fused ReLU serve TensorFlow.js's _FusedMatMul. With `bf16` (the
// encoder's products under setPrecision('bf16'), kernel SupconAutocastMatMul) both operands are
// bf16 (fp32 storage is narrowed into scratch first) and oneDNN accumulates and writes fp32.
#include <map>
#include <memory>

#include "bf16.h"
#include "common.h"

namespace supcon {
namespace {

using dnnl::memory;
using dt = memory::data_type;

struct MatMulEntry {
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul prim;
};

std::map<std::vector<int64_t>, std::unique_ptr<MatMulEntry>> cache;

// The operand as oneDNN reads it: its own storage, or (bf16 product, fp32 storage) a narrowed copy
// in scratch `slot` (0: a, 1: b). bf16 storage without bf16 was refused by the caller.
void* Operand(const Buf& x, bool bf16, int slot) {
  static std::vector<bf16_t> scratch[2];
  return !bf16 || x.bf16 ? x.data : Narrowed(x.f(), static_cast<int64_t>(x.length), scratch[slot]);
}

// matmul(a, [batchA, a1, a2], b, [batchB, b1, b2], out, transposeA, transposeB, bias|null, activation,
// bf16) out has shape [max(batchA, batchB), M, N] and is fp32; a and b are Float32Arrays, or with
// bf16 either storage.
Napi::Value MatMul(const Napi::CallbackInfo& info) {
  bool bf16 = info.Length() > 9 && info[9].ToBoolean();
  Buf abuf = AnyBuf(info, 0), bbuf = AnyBuf(info, 2);
  if (!bf16 && (abuf.bf16 || bbuf.bf16)) throw Napi::TypeError::New(info.Env(), "matmul: bf16 operands need bf16=true");
  float* out = F32(info, 4);
  auto as = Ints(info, 1), bs = Ints(info, 3);
  bool ta = info[5].ToBoolean(), tb = info[6].ToBoolean();
  bool hasBias = info[7].IsTypedArray();
  float* bias = hasBias ? F32(info, 7) : nullptr;
  int activation = static_cast<int>(Num(info, 8));
  if (as.size() != 3 || bs.size() != 3) throw Napi::Error::New(info.Env(), "matmul: expected 3-D shapes");
  int64_t batchA = as[0], batchB = bs[0];
  int64_t M = ta ? as[2] : as[1], K = ta ? as[1] : as[2];
  int64_t N = tb ? bs[1] : bs[2], Kb = tb ? bs[2] : bs[1];
  if (K != Kb) throw Napi::Error::New(info.Env(), "matmul: inner dimensions differ");
  int64_t batch = batchA > batchB ? batchA : batchB;
  CheckLength(info.Env(), "matmul a", abuf.length, static_cast<size_t>(batchA * M * K));
  CheckLength(info.Env(), "matmul b", bbuf.length, static_cast<size_t>(batchB * K * N));
  std::vector<int64_t> key{batchA, M, K, batchB, N, ta, tb, hasBias, activation, bf16};
  auto& entry = cache[key];
  if (!entry) {
    dt in = bf16 ? dt::bf16 : dt::f32;
    memory::desc ad({batchA, M, K}, in, ta ? memory::dims{M * K, 1, M} : memory::dims{M * K, K, 1});
    memory::desc bd({batchB, K, N}, in, tb ? memory::dims{K * N, 1, K} : memory::dims{K * N, N, 1});
    memory::desc cd({batch, M, N}, dt::f32, memory::dims{M * N, N, 1});
    dnnl::primitive_attr attr;
    if (activation == 1) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
      attr.set_post_ops(ops);
    }
    dnnl::matmul::primitive_desc pd;
    if (hasBias) {
      memory::desc biasd({1, 1, N}, dt::f32, memory::dims{N, N, 1});
      pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(ad, bd, biasd, cd), attr, Engine());
    } else {
      pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(ad, bd, cd), attr, Engine());
    }
    entry.reset(new MatMulEntry{pd, dnnl::matmul(pd)});
  }
  auto& pd = entry->pd;
  void* a = Operand(abuf, bf16, 0);
  void* b = Operand(bbuf, bf16, 1);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(pd.src_desc(), Engine(), a)},
                                       {DNNL_ARG_WEIGHTS, memory(pd.weights_desc(), Engine(), b)},
                                       {DNNL_ARG_DST, memory(pd.dst_desc(), Engine(), out)}};
  if (hasBias) args.emplace(DNNL_ARG_BIAS, memory(pd.bias_desc(), Engine(), bias));
  entry->prim.execute(Stream(), args);
  Stream().wait();
  return info.Env().Undefined();
}

}  // namespace

void InitMatMul(Napi::Env env, Napi::Object exports) { exports.Set("matmul", Napi::Function::New(env, MatMul)); }

}  // namespace supcon
