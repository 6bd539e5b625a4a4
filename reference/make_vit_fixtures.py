"""Values and gradients of the ViT's pieces in float64 PyTorch, for packages/supcon/test/models-vit.test.ts.

Writes packages/supcon/test/fixtures/vit-cases.json (seeded, deterministic). Every input is drawn
in float32 and widened, so the TypeScript side reads exactly the same numbers. Each case has a
fixed random cotangent `r` and the gradients of loss = sum(output * r) by torch.autograd:

  layerNorm: F.layer_norm over the last axis (eps 1e-6) of x [2, 3, 8], gradients for x, gamma, beta;
  gelu:      F.gelu exact and approximate="tanh" on x [4, 8] spanning [-5, 5];
  attention: softmax(q k^T / sqrt(d)) v on q, k, v [2, 2, 5, 4], gradients for q, k, v;
  selfAttention: nn.MultiheadAttention(8, 2 heads) on x [2, 5, 8], its weights in vit.ts's layout
             (kernels [in, out]) and the gradients for x and each weight;
  vit:       the whole TorchViT of vit_param_counts.py (patch 2, dim 8, depth 2, heads 2, mlp ratio 2)
             on images [2, 4, 4, 3], pool "cls" and "mean", weights under vit.ts's parameter names,
             features and the gradient of every parameter.

Run: /usr/bin/python3 reference/make_vit_fixtures.py
"""
import json
import os

import torch
import torch.nn.functional as F
from torch import nn

from vit_param_counts import EPS, TorchViT

torch.manual_seed(20201)


def draw(*shape, scale=1.0):
    return (torch.randn(*shape) * scale).float().double().requires_grad_(True)


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def tensor(t):
    return {"shape": list(t.shape), "values": flat(t)}


def loss_and_grads(out, inputs):
    r = torch.randn(*out.shape).float().double()
    grads = torch.autograd.grad((out * r).sum(), inputs)
    return r, grads


def layer_norm_case():
    x, gamma, beta = draw(2, 3, 8, scale=2.0), draw(8, scale=0.5), draw(8, scale=0.5)
    with torch.no_grad():
        x += 3.0  # a non-zero mean, so the centring matters
        gamma += 1.0
    y = F.layer_norm(x, (8,), gamma, beta, EPS)
    r, (gx, gg, gb) = loss_and_grads(y, (x, gamma, beta))
    return {"x": tensor(x), "gamma": tensor(gamma), "beta": tensor(beta), "y": tensor(y), "r": tensor(r),
            "dx": tensor(gx), "dgamma": tensor(gg), "dbeta": tensor(gb)}


def gelu_cases():
    x = torch.linspace(-5, 5, 32).reshape(4, 8).float().double().requires_grad_(True)
    cases = {}
    for approximate in ["none", "tanh"]:
        y = F.gelu(x, approximate=approximate)
        r, (gx,) = loss_and_grads(y, (x,))
        cases[approximate] = {"x": tensor(x), "y": tensor(y), "r": tensor(r), "dx": tensor(gx)}
    return cases


def attention_case():
    q, k, v = draw(2, 2, 5, 4), draw(2, 2, 5, 4), draw(2, 2, 5, 4)
    weights = torch.softmax(q @ k.transpose(-1, -2) / 4 ** 0.5, dim=-1)
    y = weights @ v
    r, (gq, gk, gv) = loss_and_grads(y, (q, k, v))
    return {"q": tensor(q), "k": tensor(k), "v": tensor(v), "y": tensor(y), "r": tensor(r),
            "dq": tensor(gq), "dk": tensor(gk), "dv": tensor(gv)}


def self_attention_case():
    mha = nn.MultiheadAttention(8, 2, batch_first=True).double()
    with torch.no_grad():
        for p in mha.parameters():
            p.copy_(torch.randn(*p.shape).float().double() * 0.4)
    x = draw(2, 5, 8)
    y = mha(x, x, x, need_weights=False)[0]
    params = [mha.in_proj_weight, mha.in_proj_bias, mha.out_proj.weight, mha.out_proj.bias]
    r, (gx, g_in_w, g_in_b, g_out_w, g_out_b) = loss_and_grads(y, (x, *params))
    t = lambda m: m.t()  # noqa: E731  torch keeps Linear weights [out, in]; vit.ts keeps kernels [in, out]
    return {"heads": 2, "x": tensor(x), "y": tensor(y), "r": tensor(r), "dx": tensor(gx),
            "weights": {"qkvKernel": tensor(t(mha.in_proj_weight)), "qkvBias": tensor(mha.in_proj_bias),
                        "projKernel": tensor(t(mha.out_proj.weight)), "projBias": tensor(mha.out_proj.bias)},
            "grads": {"qkvKernel": tensor(t(g_in_w)), "qkvBias": tensor(g_in_b),
                      "projKernel": tensor(t(g_out_w)), "projBias": tensor(g_out_b)}}


def ours(name, p):
    """A TorchViT parameter as vit.ts names and lays it out."""
    if name == "patch_embed.weight":
        return "patch_embed/kernel", p.permute(2, 3, 1, 0)  # [D, C, p, p] -> [p, p, C, D]
    if name == "patch_embed.bias":
        return "patch_embed/bias", p
    if name in ("cls_token", "pos_embed"):
        return name, p
    if name.startswith("norm."):
        return "norm/" + {"weight": "gamma", "bias": "beta"}[name.split(".")[1]], p
    _, i, *rest = name.split(".")
    block = f"block{i}"
    key = ".".join(rest)
    table = {
        "ln1.weight": ("ln1/gamma", False), "ln1.bias": ("ln1/beta", False),
        "ln2.weight": ("ln2/gamma", False), "ln2.bias": ("ln2/beta", False),
        "attn.in_proj_weight": ("attn/qkv/kernel", True), "attn.in_proj_bias": ("attn/qkv/bias", False),
        "attn.out_proj.weight": ("attn/proj/kernel", True), "attn.out_proj.bias": ("attn/proj/bias", False),
        "fc1.weight": ("mlp/fc1/kernel", True), "fc1.bias": ("mlp/fc1/bias", False),
        "fc2.weight": ("mlp/fc2/kernel", True), "fc2.bias": ("mlp/fc2/bias", False),
    }
    mapped, transpose = table[key]
    return f"{block}/{mapped}", (p.t() if transpose else p)


def vit_cases():
    images = draw(2, 4, 4, 3)
    cases = {}
    for pool in ["cls", "mean"]:
        size = dict(patch=2, dim=8, depth=2, heads=2, mlp_ratio=2)
        model = TorchViT(4, 3, pool=pool, **size).double()
        with torch.no_grad():
            for name, p in model.named_parameters():
                scale = 0.1 if "weight" in name and ("ln" in name or "norm" in name) else 0.4
                base = 1.0 if scale == 0.1 else 0.0
                p.copy_(base + torch.randn(*p.shape).float().double() * scale)
        named = list(model.named_parameters())
        y = model(images)
        r, grads = loss_and_grads(y, [p for _, p in named])
        weights, dweights = {}, {}
        for (name, p), g in zip(named, grads):
            key, value = ours(name, p)
            weights[key] = tensor(value)
            dweights[key] = tensor(ours(name, g)[1])
        cases[pool] = {"size": {**{k: v for k, v in size.items() if k != "mlp_ratio"}, "mlpRatio": 2, "pool": pool,
                                "gelu": "none"},
                       "images": tensor(images), "y": tensor(y), "r": tensor(r), "weights": weights, "grads": dweights}
    return cases


if __name__ == "__main__":
    fixture = {
        "generatedBy": "reference/make_vit_fixtures.py",
        "torch": torch.__version__,
        "epsilon": EPS,
        "layerNorm": layer_norm_case(),
        "gelu": gelu_cases(),
        "attention": attention_case(),
        "selfAttention": self_attention_case(),
        "vit": vit_cases(),
    }
    out = os.path.join(os.path.dirname(__file__), "..", "packages", "supcon", "test", "fixtures", "vit-cases.json")
    with open(out, "w") as f:
        json.dump(fixture, f)
        f.write("\n")
    print(f"wrote {os.path.relpath(out)}")
