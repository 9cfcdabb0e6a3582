"""Classification inference throughput of Context-Cluster models against timm's PoolFormer and
ResNet-50.

Batches of 224x224 images through each model (``timm.create_model``, random weights, eval mode,
``torch.inference_mode``), each model in a process of its own; throughput from the fastest of
``--reps`` batches after a warm-up, peak memory above the loaded model. Prints a markdown table
with parameters and FLOPs per image (``mmengine.analysis``).

    python tools/benchmark_classifier.py [--batch 32] [--reps 3] [--size 224] [--models NAME ...]
        [--device cpu|cuda]

On a GPU the peak column is the GPU's allocated-memory high-water mark.
"""
import argparse

import torch
from _device import add_device_argument, describe, measure, sync

from mmcoc.deployment.measure import count_flops, isolate
from mmcoc.utils import cli

MODELS = {
    'CoC-tiny': 'coc_tiny',
    'CoC-small': 'coc_small',
    'CoC-medium': 'coc_medium',
    'FEC-small': 'fec_small',
    'SecViT-T': 'secvit_t',
    'PoolFormer-S12 (timm)': 'poolformer_s12',
    'PoolFormer-S24 (timm)': 'poolformer_s24',
    'ResNet-50 (timm)': 'resnet50',
}


def worker(queue, name, batch, size, reps, device='cpu'):
    import timm

    import mmcoc  # noqa: F401  (registers coc_*, secvit_*)
    torch.manual_seed(0)
    model = timm.create_model(MODELS[name]).eval().to(device)
    images = torch.randn(batch, 3, size, size, device=device)

    def step():
        with torch.inference_mode():
            model(images)
        sync(device)

    result = measure(step, reps, device)
    flops = count_flops(model, (images[:1], ))
    params = sum(p.numel() for p in model.parameters())
    queue.put(dict(result, params=params, flops=flops))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--batch', type=cli.positive_int, default=32)
    parser.add_argument('--reps', type=cli.positive_int, default=3, help='timed batches per model')
    parser.add_argument('--size', type=cli.int_range(32, unit='px'), default=224,
                        help='image side (px)')
    parser.add_argument('--models', nargs='+', choices=list(MODELS), default=list(MODELS),
                        metavar='NAME', help='rows to run (default: all): ' + ', '.join(MODELS))
    add_device_argument(parser)
    args = parser.parse_args()
    cli.check_fits(parser, f'--batch {args.batch} --size {args.size}',
                   args.batch * args.size**2 * cli.TRAIN_BYTES_PER_PIXEL,
                   f'forward and backward (about {cli.TRAIN_BYTES_PER_PIXEL} bytes per pixel)',
                   'give a smaller --batch or --size')
    print(f'# torch {torch.__version__}, {describe(args.device)}, fp32, batches of {args.batch} '
          f'x {args.size}x{args.size}, '
          f'fastest of {args.reps} after a warm-up\n')
    print('| model | params (M) | GFLOPs/image | batch time (s) | images/s | peak (MiB) |\n'
          '|---|---|---|---|---|---|')
    for name in args.models:
        res = isolate(worker, name, args.batch, args.size, args.reps, args.device)
        print(f"| {name} | {res['params'] / 1e6:.1f} | {res['flops'] / 1e9:.2f} | "
              f"{res['time']:.3f} | {args.batch / res['time']:.1f} | {res['peak']:.0f} |",
              flush=True)


if __name__ == '__main__':
    main()
