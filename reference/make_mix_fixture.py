#!/usr/bin/python3
"""Reference for supcon's mixup and cutmix (packages/supcon/src/train/mix.ts) and the soft-target
cross-entropy they train with (train/loss.ts, methodLoss('ce', ..., { mix })), written from the
definitions in numpy float64:

  mixup:  x~ = lam * x + (1 - lam) * x[pi]
  cutmix: sides floor(H * sqrt(1 - lam0)) x floor(W * sqrt(1 - lam0)), top-left corner half a side
          (rounded down) above and left of the centre, every edge clipped to the image; x~ is x with
          that box taken from x[pi]; lam = 1 - box area / (H * W)
  target: lam * s(y) + (1 - lam) * s(y[pi]), s(y) = (1 - eps) * onehot(y) + eps / K
  loss:   -mean_rows sum_k target_k * log_softmax(z)_k; its gradient (softmax(z) - target) / rows

The batch is B = 4 samples of V = 2 views in sample-major order (row i*V + v is view v of sample i),
views H x W x C = 5 x 6 x 2, K = 5 classes; pi permutes the samples, so row i*V + v is paired with
row pi[i]*V + v.
Usage: /usr/bin/python3 reference/make_mix_fixture.py  (writes packages/supcon/test/fixtures/mix.json)
"""
import json
import os

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), '..', 'packages', 'supcon', 'test', 'fixtures', 'mix.json')
B, V, H, W, C, K = 4, 2, 5, 6, 2, 5


def box_of(lam0, cy, cx):
    cut_h = int(np.floor(H * np.sqrt(1 - lam0)))
    cut_w = int(np.floor(W * np.sqrt(1 - lam0)))
    y0, x0 = cy - cut_h // 2, cx - cut_w // 2
    top, bottom = np.clip([y0, y0 + cut_h], 0, H)
    left, right = np.clip([x0, x0 + cut_w], 0, W)
    return int(top), int(bottom), int(left), int(right)


def smooth(labels, eps):
    return (1 - eps) * np.eye(K)[labels] + eps / K


def main():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(B * V, H, W, C)).round(6)
    logits = (2 * rng.normal(size=(B * V, K))).round(6)
    labels = np.array([3, 0, 4, 0])
    pi = np.array([2, 0, 3, 1])
    rows = (pi[:, None] * V + np.arange(V)[None, :]).reshape(-1)  # partner row of every row
    cases = []
    specs = [
        {'kind': 'mixup', 'lambda': 0.3, 'eps': 0.0},
        {'kind': 'mixup', 'lambda': 0.8, 'eps': 0.1},
        {'kind': 'cutmix', 'lambda0': 0.6, 'centre': [2, 3], 'eps': 0.1},
        {'kind': 'cutmix', 'lambda0': 0.5, 'centre': [0, 5], 'eps': 0.0},  # clipped at the top and right
        {'kind': 'cutmix', 'lambda0': 0.0, 'centre': [4, 0], 'eps': 0.2},  # a whole-image box, clipped
        {'kind': 'cutmix', 'lambda0': 0.97, 'centre': [1, 1], 'eps': 0.0},  # sides round down to 0
    ]
    for spec in specs:
        eps = spec['eps']
        case = dict(spec)
        if spec['kind'] == 'mixup':
            lam = spec['lambda']
            mixed = lam * x + (1 - lam) * x[rows]
        else:
            top, bottom, left, right = box_of(spec['lambda0'], *spec['centre'])
            lam = 1 - (bottom - top) * (right - left) / (H * W)
            mixed = x.copy()
            mixed[:, top:bottom, left:right, :] = x[rows, top:bottom, left:right, :]
            case['box'] = {'top': top, 'bottom': bottom, 'left': left, 'right': right}
            case['lambda'] = lam
        target = lam * smooth(np.repeat(labels, V), eps) + (1 - lam) * smooth(np.repeat(labels[pi], V), eps)
        z = logits - logits.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        loss = -(target * log_p).sum(axis=1).mean()
        grad = (np.exp(log_p) - target) / (B * V)
        dominant = labels if lam >= 0.5 else labels[pi]
        case.update({'mixed': mixed.reshape(-1).tolist(), 'target': target.reshape(-1).tolist(),
                     'loss': float(loss), 'grad': grad.reshape(-1).tolist(), 'dominant': dominant.tolist()})
        cases.append(case)
    with open(OUT, 'w') as f:
        json.dump({'generatedBy': 'reference/make_mix_fixture.py', 'numpy': np.__version__,
                   'views': V, 'shape': [B * V, H, W, C], 'classes': K, 'images': x.reshape(-1).tolist(),
                   'logits': logits.reshape(-1).tolist(), 'labels': labels.tolist(),
                   'permutation': pi.tolist(), 'cases': cases}, f)
        f.write('\n')
    print([(c['kind'], c['lambda'], c.get('box'), round(c['loss'], 6)) for c in cases])


if __name__ == '__main__':
    main()
