#!/usr/bin/python3
"""torchvision side of supcon's augmentation checks. Run with Debian's Python: /usr/bin/python3.

  torch_augment.py fixtures OUT.json
      Applies torchvision's functional ops with fixed parameters to fixed random images and writes
      inputs and outputs (HWC, flattened) for packages/supcon/test/augment-reference.test.ts, and
      statistics of RandomErasing's box sampling (get_params) for packages/supcon/test/augment-erasing.test.ts.

  torch_augment.py bench --dataset fashion-mnist|cifar10 --views 2 [--preset supcon|ce|randaugment|autoaugment]
                         [--batch 256] [--reps 5] [--images RAW --shape N,H,W,C] [--random-erasing P]
      Samples/s of torchvision's SupCon two-view pipeline (RandomResizedCrop(scale 0.2-1), flip,
      ColorJitter(0.4, 0.4, 0.4, 0.1) p 0.8, RandomGrayscale p 0.2, ToTensor, Normalize) on
      uint8 images drawn like the dataset's, one process, torch.set_num_threads(1)
      (per-sample transforms; torchvision has no batched version). Prints one JSON line.
"""
import json
import math
import sys
import time

import torch
import torchvision.transforms as T
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode
from torchvision.transforms.autoaugment import AutoAugment, AutoAugmentPolicy, RandAugment, _apply_op


def hwc(t):
    """CHW tensor -> flat HWC list."""
    return t.permute(1, 2, 0).reshape(-1).tolist()


def fixtures(out_path):
    g = torch.Generator().manual_seed(7)
    rgb = torch.rand(3, 9, 11, generator=g)
    gray = torch.rand(1, 9, 11, generator=g)
    rgb8 = (torch.rand(3, 12, 10, generator=g) * 256).clamp(0, 255).to(torch.uint8)
    # Give the uint8 image a narrow range so autocontrast/equalize have work to do.
    rgb8 = (rgb8 // 3 + 40).to(torch.uint8)
    cases = []

    def add(name, src, out, **params):
        cases.append({"name": name, "input": "rgb" if src is rgb else ("gray" if src is gray else "rgb8"),
                      "params": params, "shape": list(out.shape[1:]) + [out.shape[0]], "output": hwc(out.float())})

    for (top, left, h, w, oh, ow) in [(0, 0, 9, 11, 9, 11), (1, 2, 5, 7, 9, 11), (2, 0, 7, 11, 4, 5), (0, 3, 3, 3, 8, 8), (4, 1, 5, 9, 13, 6)]:
        for src in (rgb, gray):
            out = F.resized_crop(src, top, left, h, w, [oh, ow], InterpolationMode.BILINEAR, antialias=False)
            add("resizedCrop", src, out, top=top, left=left, height=h, width=w, outHeight=oh, outWidth=ow)
    add("horizontalFlip", rgb, F.hflip(rgb))
    for f in (0.3, 1.4):
        add("brightness", rgb, F.adjust_brightness(rgb, f), factor=f)
        add("contrast", rgb, F.adjust_contrast(rgb, f), factor=f)
        add("contrast", gray, F.adjust_contrast(gray, f), factor=f)
        add("saturation", rgb, F.adjust_saturation(rgb, f), factor=f)
    for f in (-0.45, -0.1, 0.05, 0.3):
        add("hue", rgb, F.adjust_hue(rgb, f), factor=f)
    add("grayscale", rgb, F.rgb_to_grayscale(rgb, num_output_channels=3))
    for k, s in ((3, 0.7), (5, 1.5), (7, 2.0)):
        add("gaussianBlur", rgb, F.gaussian_blur(rgb, [k, k], [s, s]), kernelSize=k, sigma=s)
        add("gaussianBlur", gray, F.gaussian_blur(gray, [k, k], [s, s]), kernelSize=k, sigma=s)
    add("normalize", rgb, F.normalize(rgb, [0.4914, 0.4822, 0.4465], [0.2023, 0.1994, 0.201]),
        mean=[0.4914, 0.4822, 0.4465], std=[0.2023, 0.1994, 0.201])
    ops = [("ShearX", 0.3), ("ShearX", -0.17), ("ShearY", 0.25), ("ShearY", -0.3), ("TranslateX", 4.5),
           ("TranslateX", -3.0), ("TranslateY", 2.0), ("TranslateY", -4.9), ("Rotate", 30.0), ("Rotate", -13.0),
           ("Rotate", 90.0), ("Brightness", 0.5), ("Brightness", -0.6), ("Color", 0.8), ("Color", -0.4),
           ("Contrast", 0.7), ("Contrast", -0.5), ("Sharpness", 0.9), ("Sharpness", -0.9), ("Posterize", 4.0),
           ("Posterize", 7.0), ("Solarize", 128.0), ("Solarize", 60.0), ("AutoContrast", 0.0), ("Equalize", 0.0),
           ("Invert", 0.0), ("Identity", 0.0)]
    for op, mag in ops:
        out = _apply_op(rgb8, op, mag, InterpolationMode.NEAREST, None)
        add("autoAugmentOp", rgb8, out, op=op, magnitude=mag)
    ra = RandAugment()
    space = {}
    for bins, (h, w) in ((31, (32, 32)), (10, (28, 20))):
        s = ra._augmentation_space(bins, (h, w))
        space[f"{bins}:{h}x{w}"] = {k: {"values": v[0].tolist() if v[0].ndim > 0 else [], "signed": v[1]} for k, v in s.items()}
    # Random erasing: F.erase on given boxes and fills (its own generator, so the cases above are unchanged).
    ge = torch.Generator().manual_seed(11)
    for src, (i, j, h, w) in ((rgb, (0, 0, 3, 4)), (rgb, (2, 5, 6, 6)), (gray, (4, 1, 5, 9)), (gray, (0, 10, 9, 1))):
        c = src.shape[0]
        for fill in ("zero", "channels", "random"):
            if fill == "zero":
                v, flat = torch.zeros(c, 1, 1), [0.0] * c
            elif fill == "channels":
                vals = [-1.5, 0.25, 2.0][:c]
                v, flat = torch.tensor(vals)[:, None, None], vals
            else:
                v = torch.randn(c, h, w, generator=ge)
                flat = hwc(v)
            add("erase", src, F.erase(src, i, j, h, w, v), top=i, left=j, height=h, width=w, fill=flat)
    erasing = []
    torch.manual_seed(0)
    for (H, W), scale, ratio in (((28, 28), (0.02, 0.33), (0.3, 3.3)), ((24, 32), (0.2, 0.7), (1.0, 3.0)),
                                 ((28, 28), (0.5, 1.0), (0.3, 3.3))):
        n, fallback, hs, ws, fr = 20000, 0, [], [], []
        blank = torch.zeros(1, H, W)
        for _ in range(n):
            i, j, h, w, _v = T.RandomErasing.get_params(blank, scale=scale, ratio=ratio, value=[0.0])
            if (i, j, h, w) == (0, 0, H, W):
                fallback += 1
            else:
                hs.append(h)
                ws.append(w)
                fr.append(h * w / (H * W))

        def moments(xs):
            m = sum(xs) / len(xs)
            return {"mean": m, "var": sum((x - m) ** 2 for x in xs) / (len(xs) - 1)}
        erasing.append({"height": H, "width": W, "scale": list(scale), "ratio": list(ratio), "draws": n,
                        "fallback": fallback, "h": moments(hs), "w": moments(ws), "fraction": moments(fr)})
    policy = [[[op, p, m] for (op, p, m) in sub] for sub in AutoAugment(AutoAugmentPolicy.CIFAR10).policies]
    data = {"generator": "reference/torch_augment.py fixtures", "torch": torch.__version__,
            "images": {"rgb": hwc(rgb), "gray": hwc(gray), "rgb8": hwc(rgb8.float())},
            "shapes": {"rgb": [9, 11, 3], "gray": [9, 11, 1], "rgb8": [12, 10, 3]},
            "cases": cases, "augmentationSpace": space, "cifar10Policy": policy,
            "erasingSampling": erasing}
    with open(out_path, "w") as f:
        json.dump(data, f, separators=(",", ":"))
    print(f"wrote {len(cases)} cases to {out_path}")


def bench(argv):
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--preset", default="supcon", choices=["supcon", "simclr", "ce", "randaugment", "autoaugment"])
    p.add_argument("--views", type=int, default=2)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--random-erasing", type=float, help="append RandomErasing(p=P) after Normalize")
    p.add_argument("--images", help="raw uint8 NHWC file with the images to augment (default: random)")
    p.add_argument("--shape", help="N,H,W,C of --images")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    rgb = a.dataset.startswith("cifar")
    size, ch = (32, 3) if rgb else (28, 1)
    mean, std = ([0.4914, 0.4822, 0.4465], [0.2023, 0.1994, 0.201]) if rgb else ([0.286], [0.353])
    crop_flip = [T.RandomResizedCrop(size=size, scale=(0.2, 1.0), antialias=False), T.RandomHorizontalFlip()]
    middle = {
        "supcon": [T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8), T.RandomGrayscale(p=0.2)],
        "ce": [],
        "randaugment": [RandAugment(num_ops=2, magnitude=9, num_magnitude_bins=31)],
        "autoaugment": [AutoAugment(AutoAugmentPolicy.CIFAR10)],
    }["supcon" if a.preset == "simclr" else a.preset]
    erasing = [T.RandomErasing(p=a.random_erasing)] if a.random_erasing is not None else []
    tf = T.Compose(crop_flip + middle + [T.ConvertImageDtype(torch.float32), T.Normalize(mean, std)] + erasing)
    torch.manual_seed(0)
    if a.images:
        n, h, w, c = (int(v) for v in a.shape.split(","))
        with open(a.images, "rb") as f:
            raw = bytearray(f.read())
        images = torch.frombuffer(raw, dtype=torch.uint8).reshape(n, h, w, c).permute(0, 3, 1, 2).contiguous()[: a.batch]
        a.batch, ch, size = images.shape[0], c, h
    else:
        images = (torch.rand(a.batch, ch, size, size) * 255).to(torch.uint8)

    def one_batch():
        out = torch.empty(a.batch, a.views, ch, size, size)
        for i in range(a.batch):
            for v in range(a.views):
                out[i, v] = tf(images[i])
        return out

    one_batch()  # warm-up
    times, cpu = [], []
    for _ in range(a.reps):
        t, c = time.perf_counter(), time.process_time()
        one_batch()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    times.sort()
    cpu.sort()
    med = times[len(times) // 2]
    med_cpu = cpu[len(cpu) // 2]
    print(json.dumps({"library": "torchvision", "torchvision": __import__("torchvision").__version__,
                      "dataset": a.dataset, "preset": a.preset, "randomErasing": a.random_erasing, "views": a.views, "batch": a.batch, "threads": a.threads,
                      "samplesPerSec": a.batch / med, "samplesPerCpuSec": a.batch / med_cpu,
                      "medianBatchMs": med * 1000}))


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "fixtures":
        fixtures(sys.argv[2])
    elif len(sys.argv) >= 2 and sys.argv[1] == "bench":
        bench(sys.argv[2:])
    else:
        print(__doc__)
        sys.exit(2)
