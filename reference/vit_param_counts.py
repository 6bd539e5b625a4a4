"""A plain torch.nn Vision Transformer of the shape packages/supcon/src/models/vit.ts builds, and the
trainable parameter counts of its presets vit-mini, vit-tiny and vit-b16 (no classifier head):

  patch embedding Conv2d(C, D, kernel = stride = p) with bias; a class token [D] (pool "cls");
  learned position embeddings [T, D]; depth x pre-norm block (LayerNorm -> nn.MultiheadAttention
  -> residual -> LayerNorm -> Linear(D, rD) -> GELU -> Linear(rD, D) -> residual); a final LayerNorm.

Run with Debian's PyTorch: /usr/bin/python3 reference/vit_param_counts.py
It writes packages/supcon/test/fixtures/vit-param-counts.json, which
packages/supcon/test/models-vit.test.ts compares against the variables our ViT creates.
(ViT-B/16 without its head has 85,798,656 parameters, the published figure minus the 1000-class head.)
"""
import json
import os

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-6  # the LayerNorm epsilon of the original ViT (and of vit.ts)


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio, approximate):
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.ln1 = nn.LayerNorm(dim, eps=EPS)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(dim, eps=EPS)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.approximate = approximate

    def forward(self, x):  # x [B, T, D]
        h = self.ln1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate=self.approximate))


class TorchViT(nn.Module):
    def __init__(self, image, channels, patch, dim, depth, heads, mlp_ratio, pool="cls", gelu="none"):
        super().__init__()
        assert image % patch == 0 and dim % heads == 0
        tokens = (image // patch) ** 2 + (1 if pool == "cls" else 0)
        self.pool = pool
        self.patch_embed = nn.Conv2d(channels, dim, kernel_size=patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(dim)) if pool == "cls" else None
        self.pos_embed = nn.Parameter(torch.zeros(tokens, dim))
        self.blocks = nn.ModuleList([Block(dim, heads, mlp_ratio, gelu) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=EPS)

    def forward(self, images):  # images NHWC [B, H, W, C], as the TypeScript model takes them
        x = self.patch_embed(images.permute(0, 3, 1, 2))  # [B, D, H/p, W/p]
        x = x.flatten(2).transpose(1, 2)  # [B, N, D], patches row-major
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], 1, -1), x], dim=1)  # [B, N + 1, D]
        x = x + self.pos_embed
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        return x[:, 0] if self.pool == "cls" else x.mean(dim=1)  # [B, D]


def count(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


PRESETS = {
    "vit-mini": dict(patch=7, dim=64, depth=4, heads=2, mlp_ratio=2, gelu="tanh"),
    "vit-tiny": dict(patch=4, dim=192, depth=6, heads=3, mlp_ratio=4),
    "vit-b16": dict(patch=16, dim=768, depth=12, heads=12, mlp_ratio=4),
}
CASES = [
    ("vit-mini", [28, 28, 1], "mean"),
    ("vit-tiny", [28, 28, 1], "cls"),
    ("vit-tiny", [32, 32, 3], "cls"),
    ("vit-tiny", [28, 28, 1], "mean"),
    ("vit-b16", [224, 224, 3], "cls"),
]

if __name__ == "__main__":
    rows = []
    for preset, (h, w, c), pool in CASES:
        model = TorchViT(h, c, pool=pool, **PRESETS[preset])
        rows.append({"preset": preset, "inputShape": [h, w, c], "pool": pool, "parameters": count(model)})
        print(f"{preset} {h}x{w}x{c} pool={pool}: {rows[-1]['parameters']}")
        del model
    out = os.path.join(os.path.dirname(__file__), "..", "packages", "supcon", "test", "fixtures", "vit-param-counts.json")
    with open(out, "w") as f:
        json.dump({"generatedBy": "reference/vit_param_counts.py", "torch": torch.__version__, "cases": rows}, f, indent=2)
        f.write("\n")
