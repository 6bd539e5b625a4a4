#!/usr/bin/python3
"""Reference outputs for the deterministic corruptions, from PIL and torchvision (independent code):

- jpeg: PIL (libjpeg) save at quality q with 4:2:0 chroma subsampling (grey: one plane), then load;
- pixelate: torch interpolate 'area' down to round(side * c), then 'nearest-exact' back up;
- gaussian-blur: torchvision.transforms.functional.gaussian_blur, kernel 2*ceil(3*sigma)+1, on floats.

    /usr/bin/python3 reference/corruption_reference.py   # writes packages/supcon/test/fixtures/corruption-cases.json

Images are synthetic (smooth gradients, a disc, stripes and mild noise), 32x32 RGB and 28x28 grey,
seeded, so the file is the same on every run.
"""
import io
import json
import math
import os

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import functional as TF

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, 'packages', 'supcon', 'test', 'fixtures', 'corruption-cases.json')
JPEG_QUALITY = [80, 65, 58, 50, 40]
PIXELATE = [0.95, 0.9, 0.85, 0.75, 0.65]
BLUR_SIGMA = [0.4, 0.6, 0.7, 0.8, 1.0]


def synthetic(seed, h, w, c):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = []
    for k in range(c):
        a, b, ph = rng.uniform(0.05, 0.3), rng.uniform(0.05, 0.3), rng.uniform(0, 6.28)
        base = 0.5 + 0.3 * np.sin(a * x + b * y + ph)
        cy, cx, r = rng.uniform(6, h - 6), rng.uniform(6, w - 6), rng.uniform(4, 9)
        base = np.where((y - cy) ** 2 + (x - cx) ** 2 < r * r, 0.15 + 0.7 * rng.uniform(), base)
        base = base + 0.03 * rng.standard_normal((h, w))
        planes.append(base)
    img = np.clip(np.stack(planes, -1), 0, 1)
    return np.round(img * 255).astype(np.uint8)  # [h, w, c]


def pil(img):
    return Image.fromarray(img[:, :, 0] if img.shape[2] == 1 else img)


def back(im, c):
    a = np.asarray(im)
    return a.reshape(a.shape[0], a.shape[1], c)


def main():
    cases = []
    for seed, (h, w, c) in enumerate([(32, 32, 3), (32, 32, 3), (28, 28, 1), (28, 28, 1), (30, 26, 3)]):
        img = synthetic(seed, h, w, c)
        case = {'shape': [h, w, c], 'image': img.reshape(-1).tolist(), 'jpeg': [], 'pixelate': [], 'blur': []}
        for q in JPEG_QUALITY:
            buf = io.BytesIO()
            kwargs = {'quality': q}
            if c == 3:
                kwargs['subsampling'] = 2  # 4:2:0
            pil(img).save(buf, 'JPEG', **kwargs)
            case['jpeg'].append(back(Image.open(io.BytesIO(buf.getvalue())), c).reshape(-1).tolist())
        for f in PIXELATE:
            sw, sh = max(1, math.floor(w * f + 0.5)), max(1, math.floor(h * f + 0.5))  # round half up, as JS
            t = torch.tensor(img, dtype=torch.float64).permute(2, 0, 1)[None] / 255  # [1, c, h, w]
            small = torch.nn.functional.interpolate(t, size=(sh, sw), mode='area')
            up = torch.nn.functional.interpolate(small, size=(h, w), mode='nearest-exact')[0].permute(1, 2, 0)
            case['pixelate'].append(np.round(up.numpy() * 255).astype(np.uint8).reshape(-1).tolist())
        for s in BLUR_SIGMA:
            k = 2 * math.ceil(3 * s) + 1
            t = torch.tensor(img, dtype=torch.float64).permute(2, 0, 1) / 255  # [c, h, w]
            b = TF.gaussian_blur(t, [k, k], [s, s]).permute(1, 2, 0)
            case['blur'].append(np.round(np.clip(b.numpy(), 0, 1) * 255).astype(np.uint8).reshape(-1).tolist())
        cases.append(case)
    tmp = OUT + '.tmp'
    with open(tmp, 'w') as fh:
        json.dump(cases, fh)
    os.replace(tmp, OUT)
    print(f'wrote {len(cases)} images x 3 corruptions x 5 severities to {os.path.relpath(OUT, REPO)}')


if __name__ == '__main__':
    main()
