"""Speed and peak memory of the fast clustering op against the naive formulation, side by side.

Every case runs in a fresh subprocess (so its peak memory is its own) on the same seeded inputs
and times forward + backward. Op cases run the clustering op alone on the inputs it gets in each
of the four stages of an arch, once fast and once naive, and compare outputs and gradients.
Backbone cases time whole backbones with the fast op, beside torchvision's ResNet-50 and, for
CoC-small, the official computation (``mmcoc.testing.OfficialContextCluster``). Peak
memory is the worker's resident-set high-water mark above what it held before the first run.
Backbone rows also give the multiply-adds that one fwd+bwd runs in products and convolutions
(``count_step_flops``) and how many a second, beside the rate of one large matrix product on
the same device: how far a row is from the most its products allow.

    python tools/benchmark_backbone.py                # the full table (about 10 min on 2 cores)
    python tools/benchmark_backbone.py --quick        # a small smoke run
    python tools/benchmark_backbone.py --cases 'fec_small *' 'resnet50 *'   # chosen rows only
    python tools/benchmark_backbone.py --device cuda  # on a GPU (peak: the GPU allocator's)
"""
import argparse
import contextlib
import fnmatch
import os
import tempfile
from unittest import mock

import torch
from _device import add_device_argument, describe, measure, sync

from mmcoc.deployment.measure import count_step_flops, isolate, time_and_peak
from mmcoc.testing import naive_context_cluster
from mmcoc.utils import cli

DETECTION_SIZE = (1, 3, 768, 1152)
# divides into every stage's regions, as the official code needs
OFFICIAL_SIZE = (1, 3, 640, 960)


def stage_shapes(arch, shape, proposals, folds=(8, 4, 2, 1)):
    """The clustering op's inputs in each stage of ``arch`` for an image batch ``shape``."""
    from mmcoc.models import ContextCluster
    a = ContextCluster.resolve_arch(arch)
    b, _, h, w = shape
    h, w = h // 4, w // 4
    stages = []
    for i in range(4):
        stages.append(dict(shape=(b, a['heads'][i] * a['head_dim'][i], h, w),
                           heads=a['heads'][i], proposals=proposals, folds=folds[i]))
        h, w = (h + 1) // 2, (w + 1) // 2
    return stages


def cases(quick: bool):
    """(op cases, backbone cases): op cases run all four stages of an arch, fast and naive."""
    if quick:
        return [
            dict(name='op, coc_tiny stages, 2x3x64x64, p2', kind='op',
                 stages=stage_shapes('tiny', (2, 3, 64, 64), 2)),
        ], [
            dict(name='coc_tiny 1x3x96x160, p5', kind='backbone', arch='tiny',
                 shape=(1, 3, 96, 160), proposals=5),
            dict(name='resnet50 1x3x96x160', kind='resnet50', shape=(1, 3, 96, 160)),
        ]
    official = []  # CoC-small against the official computation (mmcoc.testing.official_coc)
    for p in (2, 5):
        official += [
            dict(name=f'coc_small 1x3x640x960, p{p}', kind='backbone', arch='small',
                 shape=OFFICIAL_SIZE, proposals=p),
            dict(name=f'coc_small 1x3x640x960, p{p}, official formulation', kind='official',
                 arch='small', shape=OFFICIAL_SIZE, proposals=p)]
    return [
        dict(name='op, coc_small stages, 8x3x224x224, p2', kind='op',
             stages=stage_shapes('small', (8, 3, 224, 224), 2)),
        dict(name='op, coc_medium stages, 8x3x224x224, p2', kind='op',
             stages=stage_shapes('medium', (8, 3, 224, 224), 2)),
        dict(name='op, coc_small stages, 1x3x768x1152, p5', kind='op',
             stages=stage_shapes('small', DETECTION_SIZE, 5)),
        dict(name='op, coc_medium stages, 1x3x768x1152, p5', kind='op',
             stages=stage_shapes('medium', DETECTION_SIZE, 5)),
    ], [
        dict(name='coc_small 8x3x224x224, p2', kind='backbone', arch='small',
             shape=(8, 3, 224, 224), proposals=2),
        dict(name='coc_small 1x3x768x1152, p5', kind='backbone', arch='small',
             shape=DETECTION_SIZE, proposals=5),
        dict(name='resnet50 1x3x768x1152', kind='resnet50', shape=DETECTION_SIZE),
        # FEC-small at its classification setting (4x4, 4x4, 2x2, 2x2 centers, no regions) and
        # its released detection setting (7x7 centers, 2x2 regions in stages 1-2)
        dict(name='fec_small 8x3x224x224, p[4,4,2,2]', kind='backbone', shape=(8, 3, 224, 224),
             backbone=dict(type='FEC', arch='small')),
        dict(name='fec_small 1x3x768x1152, p7, folds [2,2,1,1]', kind='backbone',
             shape=DETECTION_SIZE,
             backbone=dict(type='FEC', arch='small', proposals=7, folds=[2, 2, 1, 1])),
        # SecViT-T: 32 / 8 / 2 equal groups per head, global attention in the last stage
        dict(name='secvit_t 8x3x224x224', kind='backbone', shape=(8, 3, 224, 224),
             backbone=dict(type='SecViT', arch='t')),
        dict(name='secvit_t 1x3x768x1152', kind='backbone', shape=DETECTION_SIZE,
             backbone=dict(type='SecViT', arch='t')),
        dict(name='resnet50 8x3x224x224', kind='resnet50', shape=(8, 3, 224, 224)),
    ] + official


def make_inputs(case, device='cpu', dtype=torch.float32):
    """(callable running one fwd+bwd and returning the tensors to compare, the inputs)."""
    torch.manual_seed(0)
    if case['kind'] == 'op':
        from mmcoc.models.layers import clustering as cluster_module
        inputs = []
        for st in case['stages']:
            feats = torch.randn(st['shape'], device=device, dtype=dtype, requires_grad=True)
            values = torch.randn(st['shape'], device=device, dtype=dtype, requires_grad=True)
            alpha = torch.ones(1, device=device, dtype=dtype, requires_grad=True)
            beta = torch.zeros(1, device=device, dtype=dtype, requires_grad=True)
            inputs.append((st, [feats, values, alpha, beta]))

        def step(keep=False):
            outs = []
            for st, tensors in inputs:
                for t in tensors:
                    t.grad = None
                # Looked up at call time so that the naive formulation can be patched in.
                out = cluster_module.context_cluster(
                    *tensors, st['heads'], st['proposals'], st['folds'])
                out.backward(torch.ones_like(out))
                if keep:
                    outs += [out.detach().cpu()] + [t.grad.cpu() for t in tensors]
            sync(device)
            return outs
        return step

    if case['kind'] == 'resnet50':
        import torchvision
        model = torchvision.models.resnet50()
    elif case['kind'] == 'official':
        from mmcoc.models import ContextCluster
        from mmcoc.testing import OfficialContextCluster
        model = OfficialContextCluster(ContextCluster.resolve_arch(
            case['arch'], proposals=case['proposals'], folds=[8, 4, 2, 1]))
    elif 'backbone' in case:  # any mmcoc backbone, built by the registry from its settings
        from mmcoc.registry import MODELS
        model = MODELS.build(dict(case['backbone'], out_indices=(0, 1, 2, 3)))
    else:
        from mmcoc.models import ContextCluster
        model = ContextCluster(case['arch'], proposals=case['proposals'], folds=[8, 4, 2, 1],
                               out_indices=(0, 1, 2, 3))
    model = model.to(device)
    x = torch.randn(case['shape'], requires_grad=True, device=device)

    def step(keep=False):
        x.grad = None
        model.zero_grad(set_to_none=True)
        outs = model(x)
        outs = outs if isinstance(outs, (tuple, list)) else (outs,)
        sum(o.square().mean() for o in outs).backward()
        sync(device)
        return [o.detach().cpu() for o in outs] + [x.grad.cpu()] if keep else []
    return step


def worker(queue, case, impl, reps, out_path, device='cpu'):
    step = make_inputs(case, device)
    # The mixer looks the op up in its module at call time, so patching it swaps the formulation.
    patch = mock.patch('mmcoc.models.layers.clustering.context_cluster',
                       naive_context_cluster) if impl == 'naive' else contextlib.nullcontext()
    with patch:
        result = measure(step, reps, device)
        if case['kind'] != 'op':
            result['macs'] = count_step_flops(step)  # after the timed runs: it slows them
        if out_path:
            # One more run, after the peak was read, keeps what is compared: in float64, where
            # no two centers tie. In float32 the naive formulation's argmax of the rounded
            # sigmoid meets ties and near ties that the fast op's ranking of the products
            # (nearest_center) decides exactly, so a few points of a large map would join
            # another cluster and the difference would say nothing of the arithmetic.
            torch.save(make_inputs(case, device, torch.float64)(keep=True), out_path)
    queue.put(result)


def run(case, impl, reps, out_path=None, device='cpu'):
    return isolate(worker, case, impl, reps, out_path, device)


def product_rate(device: str, size: int = 2048, reps: int = 5) -> float:
    """Multiply-adds a second of a ``size``-cubed float32 matrix product, the fastest of
    ``reps``: about the most a backbone's products can reach on ``device``."""
    a, b = (torch.randn(size, size, device=device) for _ in range(2))
    sync(device)
    return size**3 / time_and_peak(lambda: (torch.mm(a, b), sync(device)), reps)['time']


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--reps', type=cli.positive_int, default=3,
                        help='timed fwd+bwd runs per case')
    parser.add_argument('--quick', action='store_true', help='small inputs (smoke test)')
    parser.add_argument('--cases', nargs='+', metavar='PATTERN',
                        help="run only the rows whose name matches a shell-style pattern, "
                        "e.g. 'coc_small *' 'resnet50 *' (default: all rows)")
    add_device_argument(parser)
    args = parser.parse_args()
    op_cases, backbone_cases = cases(args.quick)
    if args.cases:
        def chosen(rows):
            return [c for c in rows if any(fnmatch.fnmatchcase(c['name'], p) for p in args.cases)]
        op_cases, backbone_cases = chosen(op_cases), chosen(backbone_cases)
        if not op_cases + backbone_cases:
            parser.error(f'no row matches {args.cases}; the rows are: ' + ', '.join(
                repr(c['name']) for c in sum(cases(args.quick), [])))
    print(f'# torch {torch.__version__}, {describe(args.device)}, fp32, fastest of {args.reps} '
          'fwd+bwd after a warm-up\n', flush=True)
    rows = ['| case | naive fwd+bwd (s) | fast fwd+bwd (s) | speed-up | naive peak (MiB) | '
            'fast peak (MiB) | memory saved | max abs diff (out, grads; float64) |',
            '|---|---|---|---|---|---|---|---|']
    with tempfile.TemporaryDirectory() as tmp:
        for case in op_cases:
            paths = {impl: os.path.join(tmp, f'{impl}.pt') for impl in ('naive', 'fast')}
            res = {impl: run(case, impl, args.reps, paths[impl], args.device)
                   for impl in ('naive', 'fast')}
            naive, fast = (torch.load(paths[i]) for i in ('naive', 'fast'))
            # outputs and the gradients of feats and values (alpha/beta grads are sums over
            # all points: their float32 rounding grows with the map and is left out here)
            diff = max((a - b).abs().max().item() for i, (a, b) in enumerate(zip(naive, fast))
                       if i % 5 < 3)
            rows.append(
                f"| {case['name']} | {res['naive']['time']:.3f} | {res['fast']['time']:.3f} | "
                f"{res['naive']['time'] / res['fast']['time']:.1f}x | {res['naive']['peak']:.0f} "
                f"| {res['fast']['peak']:.0f} | {res['naive']['peak'] / res['fast']['peak']:.1f}x "
                f'| {diff:.1e} |')
            print(rows[-1], flush=True)
    if op_cases:
        print('\n' + '\n'.join(rows))

    if not backbone_cases:
        return
    print(f'\nA 2048x2048 matrix product here: {product_rate(args.device) / 1e9:.1f} GMAC/s. '
          'GMACs: multiply-adds of the products and convolutions of one fwd+bwd.\n')
    print('| backbone (fast op), dense outputs | fwd+bwd (s) | peak (MiB) | GMACs | GMAC/s |'
          '\n|---|---|---|---|---|')
    for case in backbone_cases:
        res = run(case, 'fast', args.reps, device=args.device)
        print(f"| {case['name']} | {res['time']:.3f} | {res['peak']:.0f} | "
              f"{res['macs'] / 1e9:.1f} | {res['macs'] / 1e9 / res['time']:.1f} |", flush=True)
    # the machine's speed may drift during the rows: the product again
    print(f'\nThe 2048x2048 product after the rows: {product_rate(args.device) / 1e9:.1f} GMAC/s')


if __name__ == '__main__':
    main()
