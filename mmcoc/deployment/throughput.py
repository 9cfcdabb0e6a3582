"""Inference throughput (images/s) at 224 of the mmcoc classifiers beside timm's
PoolFormer-S24 and ResNet-50: fp32 and bfloat16, eager and compiled, each measurement in a
process of its own.

    python -m mmcoc.deployment.throughput [--device cuda] [--batch 256] [--reps 10]
        [--models NAME ...] [--dry-run]

Throughput: ``batch / time`` of the fastest of ``--reps`` batches after ``--warmup`` ones
(``torch.inference_mode``, eval mode, random weights; bf16: ``torch.autocast`` bfloat16;
compiled: ``torch.compile`` with its defaults, compiled during the warm-up). For the
Context-Cluster models (CoC, FEC) on a GPU, eager runs the clustering op's Triton kernels
(``mmcoc/models/layers/fused_clustering.py``); the column "fp32, PyTorch op" turns them off
(the A/B of the kernels). The paper (Context Clusters, ICLR'23, on an A100) reports CoC tiny
518, small 513, medium 325 img/s. ``--dry-run``: batch 1 at 32 px, one rep, eager columns
only (the models' compiling is tested in ``tests/deployment/test_compile.py``), in one process
(checks the script).
"""
import argparse
import platform
import time

import torch

from mmcoc.deployment.measure import isolate

MODELS = {
    'CoC-tiny': ('timm', 'coc_tiny'),
    'CoC-tiny-plain': ('timm', 'coc_tiny_plain'),
    'CoC-small': ('timm', 'coc_small'),
    'CoC-medium': ('timm', 'coc_medium'),
    'CoC-base-dim64': ('timm', 'coc_base_dim64'),
    'CoC-base-dim96': ('timm', 'coc_base_dim96'),
    'FEC-small': ('timm', 'fec_small'),
    'SecViT-T': ('timm', 'secvit_t'),
    'PoolFormer-S24 (timm)': ('timm', 'poolformer_s24'),
    'ResNet-50 (timm)': ('timm', 'resnet50'),
}
# (column, bfloat16, compiled, the clustering op's Triton kernels)
MODES = (('fp32', False, False, True), ('fp32 compiled', False, True, True),
         ('bf16', True, False, True), ('bf16 compiled', True, True, True),
         ('fp32, PyTorch op', False, False, False))
FUSED_FAMILIES = ('CoC', 'FEC')


def build(name):
    _, key = MODELS[name]
    import timm

    import mmcoc  # noqa: F401  (registers coc_*, fec_*, secvit_*)
    return timm.create_model(key)


def worker(queue, name, device, batch, size, reps, warmup, mode):
    from mmcoc.models.layers.fused_clustering import fused_clustering
    _, bf16, compiled, fused = mode
    torch.manual_seed(0)
    model = build(name).to(device).eval()
    if compiled:
        model = torch.compile(model)
    x = torch.randn(batch, 3, size, size, device=device)
    cuda = device.startswith('cuda')

    def step():
        with torch.inference_mode(), fused_clustering(fused), torch.autocast(
                device.split(':')[0], dtype=torch.bfloat16, enabled=bf16):
            model(x)
        if cuda:
            torch.cuda.synchronize()

    for _ in range(warmup):
        step()
    best = float('inf')
    for _ in range(reps):
        start = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - start)
    queue.put(batch / best)


class _Box:
    def put(self, value):
        self.value = value


def measure(name, device, batch, size, reps, warmup, mode, dry_run=False):
    if dry_run:  # every model in this process (one import, seconds each)
        box = _Box()
        worker(box, name, device, batch, size, reps, warmup, mode)
        return box.value
    try:
        return isolate(worker, name, device, batch, size, reps, warmup, mode)
    except RuntimeError:  # its traceback is printed above; the row says 'failed'
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--batch', type=int, default=256)
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--reps', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--models', nargs='+', choices=list(MODELS), default=list(MODELS),
                        metavar='NAME', help='rows (default: all): ' + ', '.join(MODELS))
    parser.add_argument('--dry-run', action='store_true',
                        help='batch 1 at 32 px, one rep: checks the script, measures nothing')
    args = parser.parse_args(argv)
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        raise SystemExit('--device cuda: CUDA is not available (use --device cpu or --dry-run)')
    if args.dry_run:
        args.batch, args.size, args.reps, args.warmup = 1, 32, 1, 0
    where = (torch.cuda.get_device_name(args.device) if args.device.startswith('cuda') else
             f'{platform.machine()} CPU, {torch.get_num_threads()} threads')
    print(f'# torch {torch.__version__}, {where}, batch {args.batch} x {args.size}x{args.size}, '
          f'inference, fastest of {args.reps} after {args.warmup} warm-up'
          f'{", DRY RUN" if args.dry_run else ""}\n')
    print('| model | ' + ' | '.join(f'{m[0]} (img/s)' for m in MODES) + ' |\n|'
          + '---|' * (len(MODES) + 1), flush=True)
    failed = []
    for name in args.models:
        cells = []
        for mode in MODES:
            if not mode[3] and not name.startswith(FUSED_FAMILIES):
                cells.append('-')  # no clustering op to turn off
                continue
            if mode[2] and args.dry_run:
                cells.append('(dry run)')
                continue
            value = measure(name, args.device, args.batch, args.size, args.reps, args.warmup,
                            mode, dry_run=args.dry_run)
            cells.append('failed' if value is None else f'{value:.0f}')
            if value is None:
                failed.append(f'{name} ({mode[0]})')
        print(f'| {name} | ' + ' | '.join(cells) + ' |', flush=True)
    if failed:
        raise SystemExit('failed: ' + ', '.join(failed))


if __name__ == '__main__':
    main()
