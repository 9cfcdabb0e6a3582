"""Semantic FPN inference with CoC-small, FEC-small, SecViT-T against mmseg's ResNet-50 one.

One 512x512 image (a demo scene drawn at that size) through mmseg's ``inference_model`` (test
pipeline, whole-image mode, logits resized to the image), random init, each model in a process
of its own. Prints a markdown table with parameters and FLOPs (``mmengine.analysis``) beside the
time and peak memory.

    python tools/benchmark_segmentor.py [--reps 5] [--size 512] [--models NAME ...]
        [--device cpu|cuda]

On a GPU the peak column is the GPU's allocated-memory high-water mark.
"""
import argparse

import numpy as np
import torch
from _device import add_device_argument, describe, measure, sync

from mmcoc.deployment.measure import count_flops, isolate
from mmcoc.utils import cli
from mmcoc.utils.config import read_config

SEGMENTORS = {
    'CoC-small (4 centers) Semantic FPN': 'configs/context_cluster/coc_small_fpn_ade20k.py',
    'CoC-small (25 centers) Semantic FPN': 'configs/context_cluster/coc_small_25_fpn_ade20k.py',
    'FEC-small Semantic FPN': 'configs/fec/fec_small_fpn_ade20k.py',
    'SecViT-T Semantic FPN': 'configs/secvit/secvit_t_fpn_ade20k.py',
    'ResNet-50 Semantic FPN (mmseg)': 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py',
}


def worker(queue, name, config, size, reps, device='cpu'):
    from mmseg.apis import inference_model, init_model

    import mmcoc  # noqa: F401
    from mmcoc.datasets import render_scene
    cfg = read_config(config)
    torch.manual_seed(0)
    model = init_model(cfg, checkpoint=None, device=device)  # random init, no download
    image = render_scene(np.random.default_rng(0), size, size).image[..., ::-1].copy()  # BGR
    result = measure(lambda: (inference_model(model, image), sync(device)), reps, device)
    flops = count_flops(model, (torch.zeros(1, 3, size, size, device=device), ))
    params = sum(p.numel() for p in model.parameters())
    queue.put(dict(result, params=params, flops=flops))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--reps', type=cli.positive_int, default=5, help='timed images per model')
    parser.add_argument('--size', type=cli.int_range(32, unit='px'), default=512,
                        help='image side (px)')
    parser.add_argument('--models', nargs='+', choices=list(SEGMENTORS),
                        default=list(SEGMENTORS), metavar='NAME',
                        help='rows to run (default: all): ' + ', '.join(SEGMENTORS))
    add_device_argument(parser)
    args = parser.parse_args()
    cli.check_side(parser, '--size', args.size, cli.INFER_BYTES_PER_PIXEL, 'inference', 512)
    print(f'# torch {torch.__version__}, {describe(args.device)}, fp32, one '
          f'{args.size}x{args.size} image, '
          f'fastest of {args.reps} after a warm-up\n')
    print('| segmentor | params (M) | GFLOPs | inference (s/image) | peak (MiB) |\n'
          '|---|---|---|---|---|')
    for name in args.models:
        res = isolate(worker, name, SEGMENTORS[name], args.size, args.reps, args.device)
        print(f"| {name} | {res['params'] / 1e6:.1f} | {res['flops'] / 1e9:.1f} | "
              f"{res['time']:.3f} | {res['peak']:.0f} |", flush=True)


if __name__ == '__main__':
    main()
