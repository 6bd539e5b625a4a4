// 2-D convolution on oneDNN: forward (optionally with bias and ReLU fused), backward-data and
// backward-weights. Activations stay in TensorFlow.js's plain NHWC layout; weights arrive as
// HWIO and are reordered into whatever blocked layout oneDNN picks (format_tag::any), because
// forcing plain weights halves the speed. Primitives are built once per shape and cached.
//
// Precision: every entry point takes a trailing `bf16` flag. With it, activations and their
// gradients are bf16 (fp32 arguments are narrowed into a scratch buffer first), weights are
// reordered from fp32 HWIO straight into oneDNN's bf16 layout (the reorder both converts and
// blocks, so bf16 costs no extra pass over the weights), accumulation is fp32 inside oneDNN,
// and weight gradients are written in fp32.
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>

#include "bf16.h"

namespace supcon {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

struct ConvShape {
  memory::dims src, weights, dst, strides, dilates, padL, padR;
  std::vector<int64_t> key;
};

// Arguments: xShape [N,H,W,C], wShape [KH,KW,CI,CO], yShape [N,OH,OW,CO],
// params [strideH, strideW, dilationH, dilationW, padTop, padLeft, padBottom, padRight].
ConvShape MakeShape(const std::vector<int64_t>& x, const std::vector<int64_t>& w,
                    const std::vector<int64_t>& y, const std::vector<int64_t>& p, Napi::Env env) {
  if (x.size() != 4 || w.size() != 4 || y.size() != 4 || p.size() != 8) {
    throw Napi::Error::New(env, "conv2d: expected 4-D shapes and 8 parameters");
  }
  ConvShape s;
  s.src = {x[0], x[3], x[1], x[2]};
  s.weights = {w[3], w[2], w[0], w[1]};
  s.dst = {y[0], y[3], y[1], y[2]};
  s.strides = {p[0], p[1]};
  s.dilates = {p[2] - 1, p[3] - 1};
  s.padL = {p[4], p[5]};
  s.padR = {p[6], p[7]};
  s.key.insert(s.key.end(), x.begin(), x.end());
  s.key.insert(s.key.end(), w.begin(), w.end());
  s.key.insert(s.key.end(), y.begin(), y.end());
  s.key.insert(s.key.end(), p.begin(), p.end());
  return s;
}

// Activations and their gradients: fp32 or bf16, plain NHWC.
memory::desc Act(const memory::dims& d, bool bf16) { return memory::desc(d, bf16 ? dt::bf16 : dt::f32, tag::nhwc); }
memory::desc AnyWeights(const memory::dims& d, bool bf16) {
  return memory::desc(d, bf16 ? dt::bf16 : dt::f32, tag::any);
}

// The data pointer of `b` in the requested storage, converting into `scratch` when it differs.
void* AsStorage(const Buf& b, bool bf16, std::vector<uint16_t>& scratch16, std::vector<float>& scratch32) {
  if (b.bf16 == bf16) return b.data;
  if (bf16) return Narrowed(b.f(), static_cast<int64_t>(b.length), scratch16);
  scratch32.resize(b.length);
  WidenBf16(b.h(), scratch32.data(), static_cast<int64_t>(b.length));
  return scratch32.data();
}

// Scratch for converted inputs, one per argument role (calls come one at a time from JavaScript).
std::vector<uint16_t> scratch16[2];
std::vector<float> scratch32[2];

// fp32 3x3 stride-1 convolutions on 16-multiple channels (64 or more) run as Winograd F(4x4, 3x3) (oneDNN's
// jit_wino_4x3 for AVX-512): about half the multiplications of the direct algorithm, and in
// measurements about twice as fast per call on this project's machines, reorders included. It
// wants blocked activations, which are reordered through shared scratch (ActBridge). Its results
// differ from the direct algorithm by float rounding only (the kernel tests hold it to 1e-4).
// SUPCON_NATIVE_WINOGRAD=0 turns it off.
// Below 64 channels the Winograd transforms cost more than they save: the demo's 16- and
// 32-channel layers ran 1.1-1.7x slower with it than direct on a Zen 4 (bench-conv.mjs --model
// small-resnet, 2026-12-01); ResNet-18's 3x3 stride-1 layers (64-512 channels) gain from it.
constexpr int64_t kWinogradMinChannels = 64;

bool UseWinograd(const ConvShape& s, bool bf16) {
  static const char* env = std::getenv("SUPCON_NATIVE_WINOGRAD");
  if (bf16 || (env && std::strcmp(env, "0") == 0)) return false;
  return s.weights[2] == 3 && s.weights[3] == 3 && s.strides[0] == 1 && s.strides[1] == 1 && s.dilates[0] == 0 &&
         s.dilates[1] == 0 && s.weights[0] % 16 == 0 && s.weights[1] % 16 == 0 && s.weights[0] >= kWinogradMinChannels &&
         s.weights[1] >= kWinogradMinChannels;
}

dnnl::algorithm Algorithm(bool winograd) {
  return winograd ? dnnl::algorithm::convolution_winograd : dnnl::algorithm::convolution_direct;
}

// Activation descriptors: plain NHWC for the direct algorithm, oneDNN's choice for Winograd.
memory::desc ActFor(const memory::dims& d, bool bf16, bool winograd) {
  return winograd ? memory::desc(d, dt::f32, tag::any) : Act(d, bf16);
}

dnnl::convolution_forward::primitive_desc ForwardPd(const ConvShape& s, bool bias, int activation, bool bf16,
                                                    bool winograd = false) {
  memory::desc src = ActFor(s.src, bf16, winograd), dst = ActFor(s.dst, bf16, winograd);
  memory::desc w = AnyWeights(s.weights, bf16);
  dnnl::primitive_attr attr;
  if (activation == 1) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(ops);
  }
  if (bias) {
    memory::desc b({s.dst[1]}, dt::f32, tag::x);
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training, Algorithm(winograd), src, w, b, dst,
                                      s.strides, s.dilates, s.padL, s.padR);
    return dnnl::convolution_forward::primitive_desc(d, attr, Engine());
  }
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training, Algorithm(winograd), src, w, dst,
                                    s.strides, s.dilates, s.padL, s.padR);
  return dnnl::convolution_forward::primitive_desc(d, attr, Engine());
}

// 64-byte aligned scratch that grows as needed, one per slot (0, 1: activations, 2: weights);
// calls come one at a time from JavaScript, so the buffers are shared by every primitive.
void* Scratch(int slot, size_t bytes) {
  static std::vector<uint8_t> buffers[3];
  return AlignedScratch(buffers[slot], bytes);
}

// A weights tensor in the user's HWIO layout and, when oneDNN wants another layout, the
// reorder into (or out of) shared scratch in that layout. The weights change every step, so they
// are reordered on every call anyway; a buffer per primitive would only add three copies of the
// model to resident memory.
struct WeightsBridge {
  memory::desc user;
  memory::desc prim;
  bool needsReorder = false;
  std::unique_ptr<dnnl::reorder> reorder;
  memory Buffer() const { return memory(prim, Engine(), Scratch(2, prim.get_size())); }

  void Init(const memory::dims& dims, const memory::desc& primDesc, bool toUser) {
    user = memory::desc(dims, dt::f32, tag::hwio);
    prim = primDesc;
    needsReorder = user != prim;
    if (!needsReorder) return;
    reorder = toUser ? std::make_unique<dnnl::reorder>(dnnl::reorder::primitive_desc(Engine(), prim, Engine(), user))
                     : std::make_unique<dnnl::reorder>(dnnl::reorder::primitive_desc(Engine(), user, Engine(), prim));
  }
};

// An activation in the user's NHWC layout and, when the primitive wants another layout, the
// reorder into (or out of) scratch slot `slot` in that layout.
struct ActBridge {
  memory::desc user, prim;
  bool needsReorder = false;
  int slot = 0;
  std::unique_ptr<dnnl::reorder> reorder;

  void Init(const memory::desc& userDesc, const memory::desc& primDesc, bool toUser, int scratchSlot) {
    user = userDesc;
    prim = primDesc;
    slot = scratchSlot;
    needsReorder = user != prim;
    if (!needsReorder) return;
    reorder = toUser ? std::make_unique<dnnl::reorder>(dnnl::reorder::primitive_desc(Engine(), prim, Engine(), user))
                     : std::make_unique<dnnl::reorder>(dnnl::reorder::primitive_desc(Engine(), user, Engine(), prim));
  }
  // The primitive's memory for user data `data`: the data itself, or scratch filled from it.
  memory In(void* data) const {
    memory u(user, Engine(), data);
    if (!needsReorder) return u;
    memory m(prim, Engine(), Scratch(slot, prim.get_size()));
    reorder->execute(Stream(), u, m);
    return m;
  }
  // The primitive's memory for an output to land in user data `data` (call Out after it ran).
  memory Target(void* data) const {
    return needsReorder ? memory(prim, Engine(), Scratch(slot, prim.get_size())) : memory(user, Engine(), data);
  }
  void Out(memory m, void* data) const {
    if (!needsReorder) return;
    memory u(user, Engine(), data);
    reorder->execute(Stream(), m, u);
  }
};

struct ForwardEntry {
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward prim;
  WeightsBridge weights;
  ActBridge src, dst;
};

struct BackwardDataEntry {
  dnnl::convolution_backward_data::primitive_desc pd;
  dnnl::convolution_backward_data prim;
  WeightsBridge weights;
  ActBridge diffDst, diffSrc;
};

struct BackwardWeightsEntry {
  dnnl::convolution_backward_weights::primitive_desc pd;
  dnnl::convolution_backward_weights prim;
  WeightsBridge weights;
  ActBridge src, diffDst;
};

// Builds `make(winograd)` with Winograd where the shape allows it and oneDNN has it; direct otherwise.
template <typename Make>
auto WithWinograd(const ConvShape& s, bool bf16, Make make) {
  if (UseWinograd(s, bf16)) {
    try {
      return make(true);
    } catch (const dnnl::error&) {
      // not available for this shape or CPU: direct below
    }
  }
  return make(false);
}

std::map<std::vector<int64_t>, std::unique_ptr<ForwardEntry>> forwardCache;
std::map<std::vector<int64_t>, std::unique_ptr<BackwardDataEntry>> backwardDataCache;
std::map<std::vector<int64_t>, std::unique_ptr<BackwardWeightsEntry>> backwardWeightsCache;

// Throws unless the output buffer's storage matches the precision flag.
void CheckOut(const Napi::CallbackInfo& info, const Buf& out, bool bf16, const char* what) {
  if (out.bf16 != bf16) {
    throw Napi::TypeError::New(info.Env(), std::string(what) + ": the output storage does not match the bf16 flag");
  }
}

// conv2d(x, xShape, w, wShape, y, yShape, params, bias|null, activation 0=linear 1=relu, bf16)
Napi::Value Conv2D(const Napi::CallbackInfo& info) {
  bool bf16 = info[9].ToBoolean();
  Buf xb = AnyBuf(info, 0), yb = AnyBuf(info, 4);
  CheckOut(info, yb, bf16, "conv2d");
  void* x = AsStorage(xb, bf16, scratch16[0], scratch32[0]);
  float* w = F32(info, 2);
  void* y = yb.data;
  ConvShape s = MakeShape(Ints(info, 1), Ints(info, 3), Ints(info, 5), Ints(info, 6), info.Env());
  bool hasBias = info[7].IsTypedArray();
  float* bias = hasBias ? F32(info, 7) : nullptr;
  int activation = static_cast<int>(Num(info, 8));
  std::vector<int64_t> key = s.key;
  key.push_back(hasBias);
  key.push_back(activation);
  key.push_back(bf16);
  auto& entry = forwardCache[key];
  if (!entry) {
    auto pd = WithWinograd(s, bf16, [&](bool wino) { return ForwardPd(s, hasBias, activation, bf16, wino); });
    entry.reset(new ForwardEntry{pd, dnnl::convolution_forward(pd), {}, {}, {}});
    entry->weights.Init(s.weights, pd.weights_desc(), false);
    entry->src.Init(Act(s.src, bf16), pd.src_desc(), false, 0);
    entry->dst.Init(Act(s.dst, bf16), pd.dst_desc(), true, 1);
  }
  auto& stream = Stream();
  memory src = entry->src.In(x), dst = entry->dst.Target(y);
  memory userW(entry->weights.user, Engine(), w);
  memory primW = userW;
  if (entry->weights.needsReorder) {
    primW = entry->weights.Buffer();
    entry->weights.reorder->execute(stream, userW, primW);
  }
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, primW}, {DNNL_ARG_DST, dst}};
  if (hasBias) args.emplace(DNNL_ARG_BIAS, memory(entry->pd.bias_desc(), Engine(), bias));
  entry->prim.execute(stream, args);
  entry->dst.Out(dst, y);
  stream.wait();
  return info.Env().Undefined();
}

// conv2dBackpropInput(dy, dyShape, w, wShape, dx, dxShape, params, bf16)
Napi::Value Conv2DBackpropInput(const Napi::CallbackInfo& info) {
  bool bf16 = info[7].ToBoolean();
  Buf dyb = AnyBuf(info, 0), dxb = AnyBuf(info, 4);
  CheckOut(info, dxb, bf16, "conv2dBackpropInput");
  void* dy = AsStorage(dyb, bf16, scratch16[0], scratch32[0]);
  float* w = F32(info, 2);
  void* dx = dxb.data;
  ConvShape s = MakeShape(Ints(info, 5), Ints(info, 3), Ints(info, 1), Ints(info, 6), info.Env());
  std::vector<int64_t> key = s.key;
  key.push_back(bf16);
  auto& entry = backwardDataCache[key];
  if (!entry) {
    auto pd = WithWinograd(s, bf16, [&](bool wino) {
      auto hint = ForwardPd(s, false, 0, bf16, wino);
      memory::desc src = ActFor(s.src, bf16, wino), dst = ActFor(s.dst, bf16, wino);
      memory::desc wd = AnyWeights(s.weights, bf16);
      dnnl::convolution_backward_data::desc d(Algorithm(wino), src, wd, dst, s.strides, s.dilates, s.padL, s.padR);
      return dnnl::convolution_backward_data::primitive_desc(d, Engine(), hint);
    });
    entry.reset(new BackwardDataEntry{pd, dnnl::convolution_backward_data(pd), {}, {}, {}});
    entry->weights.Init(s.weights, pd.weights_desc(), false);
    entry->diffDst.Init(Act(s.dst, bf16), pd.diff_dst_desc(), false, 0);
    entry->diffSrc.Init(Act(s.src, bf16), pd.diff_src_desc(), true, 1);
  }
  auto& stream = Stream();
  memory diffDst = entry->diffDst.In(dy), diffSrc = entry->diffSrc.Target(dx);
  memory userW(entry->weights.user, Engine(), w);
  memory primW = userW;
  if (entry->weights.needsReorder) {
    primW = entry->weights.Buffer();
    entry->weights.reorder->execute(stream, userW, primW);
  }
  entry->prim.execute(stream, {{DNNL_ARG_DIFF_SRC, diffSrc}, {DNNL_ARG_WEIGHTS, primW}, {DNNL_ARG_DIFF_DST, diffDst}});
  entry->diffSrc.Out(diffSrc, dx);
  stream.wait();
  return info.Env().Undefined();
}

// Weight gradient as one matrix product over im2col patches:
//   dW[kh, kw, ci, co] = sum over pixels m of X_col[m, (kh, kw, ci)] * dY[m, co],
// with X_col[m] the KH*KW input patches of output pixel m (zeros where the window leaves the
// image) and dY the NHWC output gradient read as [M, CO]. dW in HWIO is [KH*KW*CI, CO] row-major,
// so the product X_col^T dY lands in the user's layout with no reorder. oneDNN 2.6's direct
// backward-weights kernels (AMX bf16 in particular) run deep layers with few pixels and many
// channels far below the matrix engine's rate; a brgemm matmul over the patches does not.
struct Im2ColEntry {
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul prim;
};
std::map<std::vector<int64_t>, std::unique_ptr<Im2ColEntry>> im2colCache;

// Copies the KH*KW windows of every output pixel into `cols` ([M, KH*KW*CI], element size `es`).
// Without dilation a window row (KW pixels of CI channels) is contiguous in the input, so it is
// one copy unless it crosses the image border.
void Im2Col(const uint8_t* x, const ConvShape& s, size_t es, uint8_t* cols) {
  const int64_t N = s.src[0], CI = s.src[1], H = s.src[2], W = s.src[3];
  const int64_t OH = s.dst[2], OW = s.dst[3], KH = s.weights[2], KW = s.weights[3];
  const int64_t dh = s.dilates[0] + 1, dw = s.dilates[1] + 1;
  const int64_t chunk = CI * static_cast<int64_t>(es), rowBytes = KH * KW * chunk;
  ParallelFor(N * OH, 1, [&](int64_t b, int64_t e) {
    for (int64_t nh = b; nh < e; nh++) {
      int64_t n = nh / OH, oh = nh % OH;
      for (int64_t ow = 0; ow < OW; ow++) {
        uint8_t* row = cols + ((nh * OW) + ow) * rowBytes;
        const int64_t iw0 = ow * s.strides[1] - s.padL[1];
        const bool inside = dw == 1 && iw0 >= 0 && iw0 + KW <= W;
        for (int64_t kh = 0; kh < KH; kh++) {
          int64_t ih = oh * s.strides[0] - s.padL[0] + kh * dh;
          if (ih < 0 || ih >= H) {
            std::memset(row, 0, KW * chunk);
            row += KW * chunk;
            continue;
          }
          const uint8_t* src = x + ((n * H + ih) * W) * chunk;
          if (inside) {
            std::memcpy(row, src + iw0 * chunk, KW * chunk);
            row += KW * chunk;
            continue;
          }
          for (int64_t kw = 0; kw < KW; kw++, row += chunk) {
            int64_t iw = iw0 + kw * dw;
            if (iw < 0 || iw >= W) std::memset(row, 0, chunk);
            else std::memcpy(row, src + iw * chunk, chunk);
          }
        }
      }
    }
  });
}

// Whether the im2col product beats oneDNN's direct backward-weights kernel for this shape, with
// M output pixels and K = KH*KW*CI patch length. Measured per layer with scripts/bench-conv.mjs
// (SUPCON_NATIVE_IM2COL=0 forces direct, =1 forces im2col, for A/B runs):
// - bf16 on AMX (Intel): deep layers (K >= 2048, where the direct AMX kernel is slowest) and any
//   layer whose patches are small to copy (M*K <= 8M values);
// - bf16 without AMX (AVX512-BF16: AMD Zen 4/5), where the direct kernel is the faster one on most
//   stride-1 layers: strided layers with M*K <= 16M values, and stride-1 layers only when both M
//   (<= 8192) and K (<= 1024) are small. On a Zen 4 (2026-12-02, two runs of each) this picks the
//   faster of the two on every layer of ResNet-18 and of the demo's small ResNet but two 1x1
//   stride-2 shortcuts (at most 0.5 ms lost), and e.g. ResNet-18's 8x8 256->256 layers run 21 ms
//   direct against 29 ms im2col, its 8x8 256->512 stride-2 layer 15 against 21;
// - fp32: only the deepest layers (K >= 4096).
bool UseIm2Col(const ConvShape& s, bool bf16) {
  static const char* env = std::getenv("SUPCON_NATIVE_IM2COL");
  if (env && std::strcmp(env, "0") == 0) return false;
  if (env && std::strcmp(env, "1") == 0) return true;
  const int64_t k = s.weights[1] * s.weights[2] * s.weights[3];
  const int64_t m = s.dst[0] * s.dst[2] * s.dst[3];
  if (!bf16) return k >= 4096;
  static const bool amx = AmxSupported();
  if (amx) return k >= 2048 || m * k <= (int64_t{8} << 20);
  const bool strided = s.strides[0] > 1 || s.strides[1] > 1;
  if (strided) return m * k <= (int64_t{16} << 20);
  return m <= 8192 && k <= 1024;
}

// A 1x1, stride-1, unpadded convolution's patches are the input itself.
bool PatchesAreInput(const ConvShape& s) {
  return s.weights[2] == 1 && s.weights[3] == 1 && s.strides[0] == 1 && s.strides[1] == 1 && s.padL[0] == 0 &&
         s.padL[1] == 0;
}

void BackpropFilterIm2Col(void* x, void* dy, float* dw, const ConvShape& s, bool bf16) {
  const int64_t M = s.dst[0] * s.dst[2] * s.dst[3], K = s.weights[1] * s.weights[2] * s.weights[3];
  const int64_t CO = s.weights[0];
  const dt type = bf16 ? dt::bf16 : dt::f32;
  const size_t es = bf16 ? 2 : 4;
  std::vector<int64_t> key = s.key;
  key.push_back(bf16);
  auto& entry = im2colCache[key];
  if (!entry) {
    memory::desc colsT({K, M}, type, tag::ba);  // X_col^T: X_col [M, K] row-major, read transposed
    memory::desc grad({M, CO}, type, tag::ab);
    memory::desc out({K, CO}, dt::f32, tag::ab);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(colsT, grad, out), Engine());
    entry.reset(new Im2ColEntry{pd, dnnl::matmul(pd)});
  }
  void* cols = x;
  if (!PatchesAreInput(s)) {
    // The patches borrow activation scratch slot 0: only Winograd primitives use it, and those never
    // take this path, so the largest patch matrix (37 MiB for ResNet-18's 4x4 512->512 layer at
    // batch 128, fp32) is not held beside the activation scratch for the whole step.
    cols = Scratch(0, static_cast<size_t>(M * K) * es);
    Im2Col(static_cast<const uint8_t*>(x), s, es, static_cast<uint8_t*>(cols));
  }
  auto& stream = Stream();
  memory a(entry->pd.src_desc(), Engine(), cols), b(entry->pd.weights_desc(), Engine(), dy),
      c(entry->pd.dst_desc(), Engine(), dw);
  entry->prim.execute(stream, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
  stream.wait();
}

// conv2dBackpropFilter(x, xShape, dy, dyShape, dw, wShape, params, bf16); dw is always fp32.
Napi::Value Conv2DBackpropFilter(const Napi::CallbackInfo& info) {
  ConvShape s = MakeShape(Ints(info, 1), Ints(info, 5), Ints(info, 3), Ints(info, 6), info.Env());
  // A stem on 1-3 input channels runs in fp32 even under bf16: oneDNN's AMX kernel is slower than
  // fp32 there, and the images are fp32 already.
  const bool bf16 = info[7].ToBoolean() && s.weights[1] * s.weights[2] * s.weights[3] >= 32;
  void* x = AsStorage(AnyBuf(info, 0), bf16, scratch16[0], scratch32[0]);
  void* dy = AsStorage(AnyBuf(info, 2), bf16, scratch16[1], scratch32[1]);
  float* dw = F32(info, 4);
  if (UseIm2Col(s, bf16)) {
    BackpropFilterIm2Col(x, dy, dw, s, bf16);
    return info.Env().Undefined();
  }
  std::vector<int64_t> key = s.key;
  key.push_back(bf16);
  auto& entry = backwardWeightsCache[key];
  if (!entry) {
    auto pd = WithWinograd(s, bf16, [&](bool wino) {
      auto hint = ForwardPd(s, false, 0, bf16, wino);
      memory::desc src = ActFor(s.src, bf16, wino), dst = ActFor(s.dst, bf16, wino);
      memory::desc wd(s.weights, dt::f32, tag::any);
      dnnl::convolution_backward_weights::desc d(Algorithm(wino), src, wd, dst, s.strides, s.dilates, s.padL,
                                                 s.padR);
      return dnnl::convolution_backward_weights::primitive_desc(d, Engine(), hint);
    });
    entry.reset(new BackwardWeightsEntry{pd, dnnl::convolution_backward_weights(pd), {}, {}, {}});
    entry->weights.Init(s.weights, pd.diff_weights_desc(), true);
    entry->src.Init(Act(s.src, bf16), pd.src_desc(), false, 0);
    entry->diffDst.Init(Act(s.dst, bf16), pd.diff_dst_desc(), false, 1);
  }
  auto& stream = Stream();
  memory src = entry->src.In(x), diffDst = entry->diffDst.In(dy);
  memory userW(entry->weights.user, Engine(), dw);
  memory primW = entry->weights.needsReorder ? entry->weights.Buffer() : userW;
  entry->prim.execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_WEIGHTS, primW}, {DNNL_ARG_DIFF_DST, diffDst}});
  if (entry->weights.needsReorder) entry->weights.reorder->execute(stream, primW, userW);
  stream.wait();
  return info.Env().Undefined();
}

}  // namespace

void InitConv(Napi::Env env, Napi::Object exports) {
  exports.Set("conv2d", Napi::Function::New(env, Conv2D));
  exports.Set("conv2dBackpropInput", Napi::Function::New(env, Conv2DBackpropInput));
  exports.Set("conv2dBackpropFilter", Napi::Function::New(env, Conv2DBackpropFilter));
}

}  // namespace supcon
