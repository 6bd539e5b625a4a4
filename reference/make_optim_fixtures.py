#!/usr/bin/python3
"""Reference updates for supcon's optimisers, computed with PyTorch 1.13 in float64.

SGD and Adam/AdamW are torch.optim's own classes; LARS (not in torch) is written here from its
formula (You et al. 2017, as in SimCLR):
    g = g + wd*p (adapted params only); trust = eta*|p|/|g| (1 if a norm is 0);
    v = m*v + lr*trust*g; p = p - (nesterov ? m*v + lr*trust*g : v)
BatchNorm and biases (rank <= 1) are not adapted and not decayed.
Usage: /usr/bin/python3 reference/make_optim_fixtures.py  (writes packages/supcon/test/fixtures/optim-*.json)
"""
import json
import os

import torch

torch.manual_seed(0)
OUT = os.path.join(os.path.dirname(__file__), '..', 'packages', 'supcon', 'test', 'fixtures')
STEPS = 6
LRS = [0.1, 0.05, 0.2, 0.1, 0.01, 0.3]
SHAPES = {'dense/kernel': [4, 3], 'dense/bias': [3], 'bn/gamma': [3]}


def initial():
    g = torch.Generator().manual_seed(1)
    params = {k: torch.randn(*s, generator=g, dtype=torch.float64) for k, s in SHAPES.items()}
    grads = [{k: torch.randn(*s, generator=g, dtype=torch.float64) for k, s in SHAPES.items()} for _ in range(STEPS)]
    return params, grads


def run_torch(make):
    params, grads = initial()
    ps = {k: torch.nn.Parameter(v.clone()) for k, v in params.items()}
    opt = make(list(ps.values()))
    history = []
    for step in range(STEPS):
        for group in opt.param_groups:
            group['lr'] = LRS[step]
        for k, p in ps.items():
            p.grad = grads[step][k].clone()
        opt.step()
        history.append({k: p.detach().flatten().tolist() for k, p in ps.items()})
    return params, grads, history


def run_lars(momentum, wd, eta, nesterov):
    params, grads = initial()
    ps = {k: v.clone() for k, v in params.items()}
    vs = {k: torch.zeros_like(v) for k, v in ps.items()}
    history = []
    for step in range(STEPS):
        lr = LRS[step]
        for k, p in ps.items():
            g = grads[step][k].clone()
            adapt = p.dim() > 1
            scaled = lr
            if adapt:
                g = g + wd * p
                wn, gn = p.norm(), g.norm()
                trust = (eta * wn / gn).item() if wn > 0 and gn > 0 else 1.0
                scaled = lr * trust
            vs[k] = momentum * vs[k] + scaled * g
            update = momentum * vs[k] + scaled * g if nesterov else vs[k]
            ps[k] = p - update
        history.append({k: p.flatten().tolist() for k, p in ps.items()})
    return params, grads, history


def case(name, kind, options, result):
    params, grads, history = result
    return {
        'name': name,
        'kind': kind,
        'options': options,
        'lrs': LRS,
        'shapes': SHAPES,
        'params': {k: v.flatten().tolist() for k, v in params.items()},
        'grads': [{k: v.flatten().tolist() for k, v in g.items()} for g in grads],
        'expected': history,
    }


sgd = [
    case('plain', 'sgd', {}, run_torch(lambda p: torch.optim.SGD(p, lr=0.1))),
    case('momentum', 'sgd', {'momentum': 0.9}, run_torch(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9))),
    case('momentum+wd+dampening', 'sgd', {'momentum': 0.9, 'weightDecay': 0.01, 'dampening': 0.1},
         run_torch(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01, dampening=0.1))),
    case('nesterov+wd', 'sgd', {'momentum': 0.9, 'weightDecay': 0.05, 'nesterov': True},
         run_torch(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.05, nesterov=True))),
]
adam = [
    case('adam', 'adam', {}, run_torch(lambda p: torch.optim.Adam(p, lr=0.1))),
    case('adam+wd', 'adam', {'beta1': 0.8, 'beta2': 0.99, 'epsilon': 1e-6, 'weightDecay': 0.1},
         run_torch(lambda p: torch.optim.Adam(p, lr=0.1, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1))),
    case('adamw', 'adam', {'weightDecay': 0.1, 'decoupled': True},
         run_torch(lambda p: torch.optim.AdamW(p, lr=0.1, weight_decay=0.1))),
]
lars = [
    case('lars', 'lars', {'momentum': 0.9, 'weightDecay': 0.0, 'trustCoefficient': 0.001}, run_lars(0.9, 0.0, 0.001, False)),
    case('lars+wd', 'lars', {'momentum': 0.9, 'weightDecay': 0.1, 'trustCoefficient': 0.02}, run_lars(0.9, 0.1, 0.02, False)),
    case('lars+nesterov', 'lars', {'momentum': 0.8, 'weightDecay': 0.01, 'trustCoefficient': 0.01, 'nesterov': True},
         run_lars(0.8, 0.01, 0.01, True)),
]
for name, cases in (('sgd', sgd), ('adam', adam), ('lars', lars)):
    path = os.path.join(OUT, f'optim-{name}.json')
    with open(path + '.tmp', 'w') as f:
        json.dump({'generator': 'reference/make_optim_fixtures.py', 'torch': torch.__version__, 'cases': cases}, f)
    os.replace(path + '.tmp', path)
    print('wrote', path)
