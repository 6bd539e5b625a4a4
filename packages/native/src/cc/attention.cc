// Multi-head self-attention from the fused q/k/v projection, forward and backward, in one call
// each (kernels SupconAttention / SupconAttentionGrad). qkv is [B, T, 3D] with columns q | k | v and
// head h at h·d … (h+1)·d − 1 inside each; the heads are read and written in place through
// oneDNN matmul strides, so the head split, the merge and their gradients copy nothing:
//   S = q kᵀ, P = softmax(scale · S), O = P v                     O [B, T, D] (heads side by side)
//   dV = Pᵀ dO, dP = dO vᵀ, dS = scale · P ⊙ (dP − Σ_row dP ⊙ P), dQ = dS k, dK = dSᵀ q
// P [B, H, T, T] is an output (the backward's only saved tensor besides qkv). With bf16, the products
// run on bf16 operands (qkv and dO as stored when they are bf16 storage, else narrowed here) with fp32
// accumulation; S, P and the softmax stay fp32, and O and dqkv may be bf16 storage (they feed the
// output projection and the q/k/v projection's gradient only).
#include <map>
#include <memory>

#include "bf16.h"
#include "common.h"

namespace supcon {
namespace {

using dnnl::memory;
using dt = memory::data_type;
using dims = memory::dims;

// A [B, H, rows, cols] operand: its element offset in the buffer and its strides.
struct View {
  int64_t offset;
  dims strides;
};

struct Shape {
  int64_t B, T, H, d;
  int64_t D() const { return H * d; }
};

// A head slice of a [B, T, width] tensor: [B, H, T, d], starting at column `column`.
View Heads(const Shape& s, int64_t width, int64_t column) { return {column, {s.T * width, s.d, width, 1}}; }
// The same slice transposed: [B, H, d, T].
View HeadsT(const Shape& s, int64_t width, int64_t column) { return {column, {s.T * width, s.d, 1, width}}; }
// A dense [B, H, T, T] tensor, or its transpose.
View Square(const Shape& s) { return {0, {s.H * s.T * s.T, s.T * s.T, s.T, 1}}; }
View SquareT(const Shape& s) { return {0, {s.H * s.T * s.T, s.T * s.T, 1, s.T}}; }

struct Product {
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul prim;
};

std::map<std::vector<int64_t>, std::unique_ptr<Product>> cache;

// dst[B, H, M, N] = src[B, H, M, K] · wei[B, H, K, N], each a view of its buffer; src and wei in
// `in` precision (their pointers already hold that type), dst in `out` (fp32 unless stated).
void Multiply(const Shape& s, int64_t M, int64_t K, int64_t N, dt in, const void* src, const View& sv,
              const void* wei, const View& wv, void* dst, const View& dv, dt out = dt::f32) {
  std::vector<int64_t> key{s.B, s.H, M, K, N, static_cast<int64_t>(in), static_cast<int64_t>(out)};
  for (const View* v : {&sv, &wv, &dv}) key.insert(key.end(), v->strides.begin(), v->strides.end());
  auto& entry = cache[key];
  if (!entry) {
    memory::desc a({s.B, s.H, M, K}, in, sv.strides);
    memory::desc b({s.B, s.H, K, N}, in, wv.strides);
    memory::desc c({s.B, s.H, M, N}, out, dv.strides);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), Engine());
    entry.reset(new Product{pd, dnnl::matmul(pd)});
  }
  auto at = [](const void* p, int64_t offset, dt type) {
    size_t width = type == dt::bf16 ? 2 : 4;
    return const_cast<void*>(static_cast<const void*>(static_cast<const uint8_t*>(p) + offset * width));
  };
  auto& pd = entry->pd;
  entry->prim.execute(Stream(), {{DNNL_ARG_SRC, memory(pd.src_desc(), Engine(), at(src, sv.offset, in))},
                                 {DNNL_ARG_WEIGHTS, memory(pd.weights_desc(), Engine(), at(wei, wv.offset, in))},
                                 {DNNL_ARG_DST, memory(pd.dst_desc(), Engine(), at(dst, dv.offset, out))}});
  Stream().wait();
}

// fp32 scratch for S, dP and dS, one buffer per slot (1 and 4).
void* Scratch(int slot, size_t bytes) {
  static std::vector<uint8_t> buffers[5];
  return AlignedScratch(buffers[slot], bytes);
}

// `x` as the products read it: itself (fp32, or bf16 storage), or a bf16 copy in scratch slot `slot`
// (0, 2, 3).
const void* AsInput(const float* x, int64_t n, bool bf16, int slot) {
  static std::vector<bf16_t> narrowed[4];
  return bf16 ? static_cast<const void*>(Narrowed(x, n, narrowed[slot])) : x;
}
const void* AsInput(const Buf& x, bool bf16, int slot) {
  return x.bf16 ? x.data : AsInput(x.f(), static_cast<int64_t>(x.length), bf16, slot);
}

Shape ShapeOf(const Napi::CallbackInfo& info, size_t i) {
  auto v = Ints(info, i);  // [B, T, H, d]
  if (v.size() != 4 || v[0] <= 0 || v[1] <= 0 || v[2] <= 0 || v[3] <= 0)
    throw Napi::TypeError::New(info.Env(), "attention: expected the shape [B, T, H, d] as four positive integers");
  return {v[0], v[1], v[2], v[3]};
}

// attention(qkv, [B, T, H, d], scale, bf16, o, p); qkv and o Float32Arrays or (with bf16) Uint16Arrays
Napi::Value Attention(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  size_t np;
  Buf qkv = AnyBuf(info, 0);
  size_t nqkv = qkv.length;
  Shape s = ShapeOf(info, 1);
  float scale = static_cast<float>(Num(info, 2));
  bool bf16 = info[3].ToBoolean();
  Buf o = AnyBuf(info, 4);
  size_t no = o.length;
  if ((o.bf16 || qkv.bf16) && !bf16) throw Napi::TypeError::New(env, "attention: bf16 qkv or o needs bf16=true");
  float* p = F32(info, 5, &np);
  const int64_t D = s.D(), W = 3 * D, rows = s.B * s.H * s.T;
  CheckLength(env, "attention qkv", nqkv, s.B * s.T * W);
  CheckLength(env, "attention o", no, s.B * s.T * D);
  CheckLength(env, "attention p", np, rows * s.T);
  dt in = bf16 ? dt::bf16 : dt::f32;
  const void* x = AsInput(qkv, bf16, 0);
  auto* logits = static_cast<float*>(Scratch(1, np * 4));
  Multiply(s, s.T, s.d, s.T, in, x, Heads(s, W, 0), x, HeadsT(s, W, D), logits, Square(s));  // S = q kᵀ
  ScaledSoftmaxRows(logits, rows, s.T, scale, p);
  const void* pin = AsInput(p, rows * s.T, bf16, 2);
  Multiply(s, s.T, s.T, s.d, in, pin, Square(s), x, Heads(s, W, 2 * D), o.data, Heads(s, D, 0),
           o.bf16 ? dt::bf16 : dt::f32);  // O = P v
  return env.Undefined();
}

// attentionGrad(dO, qkv, p, [B, T, H, d], scale, bf16, dqkv); dO, qkv and dqkv Float32Arrays or
// (with bf16) Uint16Arrays, p fp32
Napi::Value AttentionGrad(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  size_t np;
  Buf dOb = AnyBuf(info, 0), qkv = AnyBuf(info, 1);
  size_t ndo = dOb.length, nqkv = qkv.length;
  float* p = F32(info, 2, &np);
  Shape s = ShapeOf(info, 3);
  float scale = static_cast<float>(Num(info, 4));
  bool bf16 = info[5].ToBoolean();
  Buf dqkvb = AnyBuf(info, 6);
  size_t ndqkv = dqkvb.length;
  if ((dOb.bf16 || qkv.bf16 || dqkvb.bf16) && !bf16)
    throw Napi::TypeError::New(env, "attentionGrad: bf16 dO, qkv or dqkv needs bf16=true");
  void* dqkv = dqkvb.data;
  const dt dout = dqkvb.bf16 ? dt::bf16 : dt::f32;
  const int64_t D = s.D(), W = 3 * D, rows = s.B * s.H * s.T;
  CheckLength(env, "attentionGrad dO", ndo, s.B * s.T * D);
  CheckLength(env, "attentionGrad qkv", nqkv, s.B * s.T * W);
  CheckLength(env, "attentionGrad p", np, rows * s.T);
  CheckLength(env, "attentionGrad dqkv", ndqkv, nqkv);
  dt in = bf16 ? dt::bf16 : dt::f32;
  const void* x = AsInput(qkv, bf16, 0);
  const void* g = AsInput(dOb, bf16, 2);
  const void* pin = AsInput(p, rows * s.T, bf16, 3);
  // dV = Pᵀ dO, into the v columns of dqkv
  Multiply(s, s.T, s.T, s.d, in, pin, SquareT(s), g, Heads(s, D, 0), dqkv, Heads(s, W, 2 * D), dout);
  // dP = dO vᵀ, then dS = scale · P ⊙ (dP − Σ dP ⊙ P)
  auto* dP = static_cast<float*>(Scratch(1, np * 4));
  Multiply(s, s.T, s.d, s.T, in, g, Heads(s, D, 0), x, HeadsT(s, W, 2 * D), dP, Square(s));
  auto* dS = static_cast<float*>(Scratch(4, np * 4));
  ScaledSoftmaxRowsGrad(dP, p, rows, s.T, scale, dS);
  const void* sin = AsInput(dS, rows * s.T, bf16, 3);  // (P's bf16 copy is no longer needed)
  // dQ = dS k and dK = dSᵀ q, into the q and k columns of dqkv
  Multiply(s, s.T, s.T, s.d, in, sin, Square(s), x, Heads(s, W, D), dqkv, Heads(s, W, 0), dout);
  Multiply(s, s.T, s.T, s.d, in, sin, SquareT(s), x, Heads(s, W, 0), dqkv, Heads(s, W, D), dout);
  return env.Undefined();
}

}  // namespace

void InitAttention(Napi::Env env, Napi::Object exports) {
  exports.Set("attention", Napi::Function::New(env, Attention));
  exports.Set("attentionGrad", Napi::Function::New(env, AttentionGrad));
}

}  // namespace supcon
