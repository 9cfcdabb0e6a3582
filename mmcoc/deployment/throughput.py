"""Inference throughput (images/s) at 224, fp32 and AMP, of the mmcoc classifiers beside
mmpretrain's PoolFormer-S12 and torchvision's ResNet-50, each model in a process of its own.

    python -m mmcoc.deployment.throughput [--device cuda] [--batch 64] [--reps 10]
        [--models NAME ...] [--dry-run]

Throughput: ``batch / time`` of the fastest of ``--reps`` batches after ``--warmup`` ones
(``torch.inference_mode``, eval mode, random weights; AMP: ``torch.autocast`` float16 on a GPU,
bfloat16 on the CPU). The paper (Context Clusters, ICLR'23, on an A100) reports CoC tiny 518,
small 513, medium 325 img/s. ``--dry-run``: batch 1 at 32 px, one rep, in one
process (checks the script).
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
    'PoolFormer-S12 (mmpretrain)': ('mmpretrain', 'poolformer-s12_3rdparty_32xb128_in1k'),
    'ResNet-50 (torchvision)': ('torchvision', 'resnet50'),
}


def build(name):
    source, key = MODELS[name]
    if source == 'timm':
        import timm

        import mmcoc  # noqa: F401  (registers coc_*, fec_*, secvit_*)
        return timm.create_model(key)
    if source == 'mmpretrain':
        from mmpretrain import get_model
        return get_model(key, pretrained=False)
    import torchvision
    return getattr(torchvision.models, key)()


def worker(queue, name, device, batch, size, reps, warmup, amp):
    torch.manual_seed(0)
    model = build(name).to(device).eval()
    x = torch.randn(batch, 3, size, size, device=device)
    cuda = device.startswith('cuda')
    dtype = torch.float16 if cuda else torch.bfloat16

    def step():
        with torch.inference_mode(), torch.autocast(device.split(':')[0], dtype=dtype,
                                                    enabled=amp):
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


def measure(name, device, batch, size, reps, warmup, amp, spawn=True):
    if not spawn:  # the dry run: every model in this process (one import, seconds each)
        box = _Box()
        worker(box, name, device, batch, size, reps, warmup, amp)
        return box.value
    try:
        return isolate(worker, name, device, batch, size, reps, warmup, amp)
    except RuntimeError:  # its traceback is printed above; the row says 'failed'
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--batch', type=int, default=64)
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
    print('| model | fp32 (img/s) | AMP (img/s) |\n|---|---|---|', flush=True)
    failed = []
    for name in args.models:
        cells = []
        for amp in (False, True):
            value = measure(name, args.device, args.batch, args.size, args.reps, args.warmup,
                            amp, spawn=not args.dry_run)
            cells.append('failed' if value is None else f'{value:.0f}')
            if value is None:
                failed.append(f'{name} ({"AMP" if amp else "fp32"})')
        print(f'| {name} | {cells[0]} | {cells[1]} |', flush=True)
    if failed:
        raise SystemExit('failed: ' + ', '.join(failed))


if __name__ == '__main__':
    main()
