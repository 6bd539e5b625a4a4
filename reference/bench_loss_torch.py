#!/usr/bin/python3
"""Baseline timing: forward + backward of the SupCon loss written the way the PyTorch reference
(HobbitLong/SupContrast) computes it, in float32 on 2 threads.

    /usr/bin/python3 reference/bench_loss_torch.py --batch-size 1024 --views 2 --dim 128 [--reps 5] [--json]

The formula (L_out, contrast mode 'all', every view an anchor): label-equality mask tiled over
views, self-contrast removed by a logits mask, row maximum subtracted (gradient stopped),
log-probabilities against all other rows, mean over positives, scaled by tau / base_tau.
Features are random, L2-normalised and require grad; labels are drawn from --classes classes.
Two warm-up runs, then the median of --reps timed runs. Peak RSS is the process maximum from
getrusage (it includes Python and torch themselves, about 200-300 MiB).

Memory grows with (batch * views)^2: at 8192 x 2 the [16384, 16384] float32 matrices are 1 GiB
each and the run holds several of them (several GiB in all).
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time

os.environ.setdefault('OMP_NUM_THREADS', '2')
import torch  # noqa: E402


def supcon_loss_reference_style(features, labels, temperature=0.1, base_temperature=0.07):
    """features [B, V, D] (L2-normalised), labels [B] -> scalar loss (L_out, all views as anchors)."""
    B, V = features.shape[0], features.shape[1]
    N = B * V
    same_label = torch.eq(labels.view(-1, 1), labels.view(1, -1)).float()  # [B, B]
    contrast = torch.cat(torch.unbind(features, dim=1), dim=0)  # [N, D], view-major
    logits = torch.matmul(contrast, contrast.T) / temperature  # [N, N]
    row_max, _ = torch.max(logits, dim=1, keepdim=True)  # [N, 1]
    logits = logits - row_max.detach()  # [N, N], for numerical stability
    positives = same_label.repeat(V, V)  # [N, N]
    logits_mask = torch.ones(N, N, device=features.device) - torch.eye(N, device=features.device)  # [N, N]
    positives = positives * logits_mask  # [N, N], self excluded
    exp_logits = torch.exp(logits) * logits_mask  # [N, N]
    log_prob = logits - torch.log(exp_logits.sum(1, keepdim=True))  # [N, N]
    n_positives = positives.sum(1)  # [N]
    n_positives = torch.where(n_positives < 1e-6, torch.ones_like(n_positives), n_positives)
    mean_log_prob_pos = (positives * log_prob).sum(1) / n_positives  # [N]
    loss = -(temperature / base_temperature) * mean_log_prob_pos  # [N]
    return loss.view(V, B).mean()


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # ru_maxrss is KiB on Linux


def main():
    parser = argparse.ArgumentParser(description='Time forward+backward of the PyTorch-style SupCon loss.')
    parser.add_argument('--batch-size', type=int, required=True)
    parser.add_argument('--views', type=int, required=True)
    parser.add_argument('--dim', type=int, required=True)
    parser.add_argument('--reps', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--classes', type=int, default=10)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', action='store_true', help='print one JSON object on stdout')
    args = parser.parse_args()
    for name in ('batch_size', 'views', 'dim', 'reps', 'classes', 'threads'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be a positive integer, received {getattr(args, name)}')

    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(args.seed)
    features = torch.randn(args.batch_size, args.views, args.dim, generator=gen)  # [B, V, D]
    features = torch.nn.functional.normalize(features, dim=-1).requires_grad_(True)
    labels = torch.randint(0, args.classes, (args.batch_size,), generator=gen)  # [B]

    def step():
        features.grad = None
        loss = supcon_loss_reference_style(features, labels)
        loss.backward()
        return loss.item()

    for _ in range(args.warmup):
        step()
    times_ms = []
    for _ in range(args.reps):
        start = time.perf_counter()
        value = step()
        times_ms.append((time.perf_counter() - start) * 1000.0)
    if not torch.isfinite(features.grad).all() or value != value:
        print('bench_loss_torch: non-finite loss or gradient', file=sys.stderr)
        sys.exit(1)

    result = {
        'impl': 'pytorch',
        'batchSize': args.batch_size,
        'views': args.views,
        'dim': args.dim,
        'msMedian': round(statistics.median(times_ms), 3),
        'msAll': [round(t, 3) for t in times_ms],
        'peakRssMiB': round(peak_rss_mib(), 1),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f'pytorch {torch.__version__} supcon fwd+bwd {args.batch_size}x{args.views}x{args.dim} '
              f'({args.threads} threads): median {result["msMedian"]:.1f} ms over {args.reps} runs '
              f'(min {min(times_ms):.1f}, max {max(times_ms):.1f}), loss {value:.4f}, '
              f'peak RSS {result["peakRssMiB"]:.0f} MiB')


if __name__ == '__main__':
    main()
