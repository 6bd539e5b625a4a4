// Batched matrix multiplication on oneDNN's matmul primitive. Transposes are expressed as
// strides, so no copy is made; a batch of 1 on either side broadcasts. An optional bias over
// the last dimension and a fused ReLU serve TensorFlow.js's _FusedMatMul. With `bf16` (the
// encoder's products under setPrecision('bf16'), kernel SupconAutocastMatMul) both operands are
// bf16 (fp32 storage is narrowed into scratch first) and oneDNN accumulates and writes fp32.
// linearGrad (kernel SupconLinearGrad) is a linear layer's whole gradient: two products and the bias sum.
#include <algorithm>
#include <map>
#include <memory>
#include <string>

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

// out [max(batchA, batchB), M, N] (fp32, or bf16 with `bf16Out`) = op(a) · op(b) (+ bias, then the
// activation), a as [batchA, a1, a2] and b as [batchB, b1, b2] in the product's precision already.
void Product(const void* a, int64_t batchA, int64_t a1, int64_t a2, const void* b, int64_t batchB, int64_t b1,
             int64_t b2, void* out, bool ta, bool tb, const float* bias, int activation, bool bf16,
             bool bf16Out = false, const float* residual = nullptr) {
  int64_t M = ta ? a2 : a1, K = ta ? a1 : a2;
  int64_t N = tb ? b1 : b2;
  int64_t batch = batchA > batchB ? batchA : batchB;
  bool hasBias = bias != nullptr;
  bool hasResidual = residual != nullptr;
  std::vector<int64_t> key{batchA, M, K, batchB, N, ta, tb, hasBias, activation, bf16, bf16Out, hasResidual};
  auto& entry = cache[key];
  if (!entry) {
    dt in = bf16 ? dt::bf16 : dt::f32;
    memory::desc ad({batchA, M, K}, in, ta ? memory::dims{M * K, 1, M} : memory::dims{M * K, K, 1});
    memory::desc bd({batchB, K, N}, in, tb ? memory::dims{K * N, 1, K} : memory::dims{K * N, N, 1});
    memory::desc cd({batch, M, N}, bf16Out ? dt::bf16 : dt::f32, memory::dims{M * N, N, 1});
    dnnl::primitive_attr attr;
    dnnl::post_ops ops;
    // out = (op(a) op(b) + bias + residual), then the activation: the residual as a binary post-op
    // over the whole output (no broadcast), read in the product's own pass.
    if (hasResidual) ops.append_binary(dnnl::algorithm::binary_add, cd);
    if (activation == 1) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    if (hasResidual || activation == 1) attr.set_post_ops(ops);
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
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(pd.src_desc(), Engine(), const_cast<void*>(a))},
                                       {DNNL_ARG_WEIGHTS, memory(pd.weights_desc(), Engine(), const_cast<void*>(b))},
                                       {DNNL_ARG_DST, memory(pd.dst_desc(), Engine(), out)}};
  if (hasBias) args.emplace(DNNL_ARG_BIAS, memory(pd.bias_desc(), Engine(), const_cast<float*>(bias)));
  if (hasResidual) {  // shaped like the (fp32) output, as the post-op was declared
    args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1,
                 memory(pd.dst_desc(), Engine(), const_cast<float*>(residual)));
  }
  entry->prim.execute(Stream(), args);
  Stream().wait();
}

// matmul(a, [batchA, a1, a2], b, [batchB, b1, b2], out, transposeA, transposeB, bias|null, activation,
// bf16, residual|null) out has shape [max(batchA, batchB), M, N] and is fp32; a and b are Float32Arrays,
// or with bf16 either storage, and so is out (a Uint16Array: the result rounded to bf16); residual,
// fp32 like out, is added to the product (before the activation).
Napi::Value MatMul(const Napi::CallbackInfo& info) {
  bool bf16 = info.Length() > 9 && info[9].ToBoolean();
  Buf abuf = AnyBuf(info, 0), bbuf = AnyBuf(info, 2);
  if (!bf16 && (abuf.bf16 || bbuf.bf16)) throw Napi::TypeError::New(info.Env(), "matmul: bf16 operands need bf16=true");
  Buf out = AnyBuf(info, 4);
  if (!bf16 && out.bf16) throw Napi::TypeError::New(info.Env(), "matmul: a bf16 output needs bf16=true");
  auto as = Ints(info, 1), bs = Ints(info, 3);
  bool ta = info[5].ToBoolean(), tb = info[6].ToBoolean();
  float* bias = info[7].IsTypedArray() ? F32(info, 7) : nullptr;
  int activation = static_cast<int>(Num(info, 8));
  size_t nr = 0;
  float* residual = info.Length() > 10 && info[10].IsTypedArray() ? F32(info, 10, &nr) : nullptr;
  if (as.size() != 3 || bs.size() != 3) throw Napi::Error::New(info.Env(), "matmul: expected 3-D shapes");
  int64_t M = ta ? as[2] : as[1], K = ta ? as[1] : as[2];
  int64_t N = tb ? bs[1] : bs[2], Kb = tb ? bs[2] : bs[1];
  if (K != Kb) throw Napi::Error::New(info.Env(), "matmul: inner dimensions differ");
  CheckLength(info.Env(), "matmul a", abuf.length, static_cast<size_t>(as[0] * M * K));
  CheckLength(info.Env(), "matmul b", bbuf.length, static_cast<size_t>(bs[0] * K * N));
  int64_t batch = as[0] > bs[0] ? as[0] : bs[0];
  CheckLength(info.Env(), "matmul out", out.length, static_cast<size_t>(batch * M * N));
  if (residual) {
    if (out.bf16) throw Napi::TypeError::New(info.Env(), "matmul: a residual needs an fp32 output");
    CheckLength(info.Env(), "matmul residual", nr, out.length);
  }
  Product(Operand(abuf, bf16, 0), as[0], as[1], as[2], Operand(bbuf, bf16, 1), bs[0], bs[1], bs[2], out.data, ta,
          tb, bias, activation, bf16, out.bf16, residual);
  return info.Env().Undefined();
}

// linearGrad(dy [rows, N], x [rows, K], w [K, N], dx [rows, K], dw [K, N], db [N], bf16): the
// gradient of y = x w + b: dx = dy wᵀ, dw = xᵀ dy, db = Σ_rows dy. dw, db and w are fp32; dy, x and
// dx fp32 or (bf16) either storage. In bf16, fp32 dy is narrowed once, in db's pass, for both products.
Napi::Value LinearGrad(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  Buf dy = AnyBuf(info, 0), x = AnyBuf(info, 1), w = AnyBuf(info, 2);
  size_t ndw, ndb;
  Buf dxb = AnyBuf(info, 3);
  size_t ndx = dxb.length;
  float* dw = F32(info, 4, &ndw);
  float* db = F32(info, 5, &ndb);
  bool bf16 = info[6].ToBoolean();
  if (w.bf16) throw Napi::TypeError::New(env, "linearGrad: expected w as a Float32Array, received a Uint16Array");
  if (!bf16 && (dy.bf16 || x.bf16 || dxb.bf16))
    throw Napi::TypeError::New(env, "linearGrad: bf16 dy, x or dx needs bf16=true");
  const int64_t N = static_cast<int64_t>(ndb);
  if (N <= 0 || ndw % ndb != 0 || dy.length % ndb != 0) {
    throw Napi::TypeError::New(env, "linearGrad: expected dy [rows, N], w [K, N] and db [N], received " +
                                        std::to_string(dy.length) + ", " + std::to_string(ndw) + " and " +
                                        std::to_string(ndb) + " elements");
  }
  const int64_t K = static_cast<int64_t>(ndw) / N, rows = static_cast<int64_t>(dy.length) / N;
  CheckLength(env, "linearGrad w", w.length, ndw);
  CheckLength(env, "linearGrad x", x.length, static_cast<size_t>(rows * K));
  CheckLength(env, "linearGrad dx", ndx, static_cast<size_t>(rows * K));
  static std::vector<bf16_t> narrowed;
  const void* g = dy.data;
  if (dy.bf16) {
    ColumnSums(dy.h(), rows, N, db);
  } else if (bf16) {
    narrowed.resize(static_cast<size_t>(rows * N));
    ColumnSums(dy.f(), rows, N, db, narrowed.data());
    g = narrowed.data();
  } else {
    ColumnSums(dy.f(), rows, N, db, nullptr);
  }
  Product(g, 1, rows, N, Operand(w, bf16, 1), 1, K, N, dxb.data, false, true, nullptr, 0, bf16, dxb.bf16);  // dx = dy wᵀ
  Product(Operand(x, bf16, 0), 1, rows, K, g, 1, rows, N, dw, true, false, nullptr, 0, bf16);  // dw = xᵀ dy
  return env.Undefined();
}

}  // namespace

void InitMatMul(Napi::Env env, Napi::Object exports) {
  exports.Set("matmul", Napi::Function::New(env, MatMul));
  exports.Set("linearGrad", Napi::Function::New(env, LinearGrad));
}

}  // namespace supcon
