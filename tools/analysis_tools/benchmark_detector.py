"""Mask R-CNN training step with CoC-small, FEC-small, SecViT-T against mmdet's ResNet-50 one.

CoC-small also runs with ``with_cp=True`` (its blocks under activation checkpointing).

Same synthetic batch for all (mmdet's ``demo_mm_inputs``: 2 images of 800x1216 with boxes and
masks), random init, one training step = forward + loss + backward + AdamW step, each model in a
process of its own. Prints a markdown table; the backbone's forward + backward alone on the same
images (after the steps) gives its share of the step, and the rest (neck, heads, losses,
optimizer) is nearly the same work for every backbone (the FPN's input widths and the RPN's
proposals differ). The multiply-adds of each (products and convolutions, forward and backward,
counted as they run: ``count_step_flops``) show what the FLOPs predict, and G/s how fast each
part runs them.

    python tools/benchmark_detector.py [--reps 2] [--size 800 1216] [--models NAME ...]
"""
import argparse
import platform
import time

import torch
from mmengine.registry import init_default_scope

from mmcoc.deployment.measure import count_step_flops, isolate, time_and_peak
from mmcoc.utils import cli
from mmcoc.utils.config import read_config

DETECTORS = {
    'CoC-small (4 centers) Mask R-CNN': 'configs/context_cluster/coc_small_maskrcnn_coco.py',
    'CoC-small (4 centers) Mask R-CNN, with_cp':
        'configs/context_cluster/coc_small_maskrcnn_coco.py',
    'CoC-small (25 centers) Mask R-CNN': 'configs/context_cluster/coc_small_25_maskrcnn_coco.py',
    'FEC-small Mask R-CNN': 'configs/fec/fec_small_maskrcnn_coco.py',
    'SecViT-T Mask R-CNN': 'configs/secvit/secvit_t_maskrcnn_coco.py',
    'ResNet-50 Mask R-CNN (mmdet)': 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
}


def worker(queue, name, config, size, reps):
    """One row: ``name`` ending in ', with_cp' sets ``model.backbone.with_cp=True``."""
    from mmdet.registry import MODELS
    from mmdet.testing import demo_mm_inputs

    import mmcoc  # noqa: F401
    cfg = read_config(config)
    cfg.model.backbone.pop('init_cfg', None)  # random init: no download, same for both
    if name.endswith(', with_cp'):
        cfg.model.backbone.with_cp = True  # activation checkpointing of every block
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batch = demo_mm_inputs(2, [(3, *size)] * 2, with_mask=True, num_items=[8, 8])
    params = sum(p.numel() for p in model.parameters())

    def step():
        data = model.data_preprocessor(batch, True)
        losses = model(**data, mode='loss')
        loss, _ = model.parse_losses(losses)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    result = time_and_peak(step, reps)
    # the backbone's share of the step: its forward + backward alone on the same images
    inputs = model.data_preprocessor(batch, True)['inputs']
    with torch.no_grad():
        # gradients of the maps' size and spread (a constant one would make GroupNorm's and
        # BatchNorm's input gradients cancel to subnormal numbers, which the CPU computes slowly)
        grads = [torch.randn_like(m) * 1e-3 for m in model.backbone(inputs)]

    def backbone_step():
        # a frozen first stage (mmdet's ResNet-50: frozen_stages=1) gives a map without grad
        maps, wanted = zip(*[(m, g) for m, g in zip(model.backbone(inputs), grads)
                             if m.requires_grad])
        torch.autograd.backward(maps, wanted)

    times = []
    for _ in range(reps):
        start = time.perf_counter()
        backbone_step()
        times.append(time.perf_counter() - start)
    # counted after the timed runs: the counter's dispatch slows the ops it records
    queue.put(dict(result, params=params, backbone=min(times), macs=count_step_flops(step),
                   backbone_macs=count_step_flops(backbone_step)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--reps', type=cli.positive_int, default=2, help='timed steps per model')
    parser.add_argument('--size', type=cli.int_range(32, unit='px'), nargs=2,
                        default=[800, 1216], help='image H W')
    parser.add_argument('--models', nargs='+', choices=list(DETECTORS), default=list(DETECTORS),
                        metavar='NAME', help='rows to run (default: all): ' + ', '.join(DETECTORS))
    args = parser.parse_args()
    cli.check_fits(parser, f'--size {args.size[0]} {args.size[1]}',
                   2 * args.size[0] * args.size[1] * cli.TRAIN_BYTES_PER_PIXEL,
                   f'a train step of 2 images (about {cli.TRAIN_BYTES_PER_PIXEL} bytes per pixel)',
                   'give a smaller --size')
    print(f'# torch {torch.__version__}, {torch.get_num_threads()} threads, '
          f'{platform.machine()}, CPU, fp32, 2 images of {args.size[0]}x{args.size[1]}, '
          f'fastest of {args.reps} steps after a warm-up\n')
    print('GMACs: multiply-adds of the products and convolutions, forward + backward; '
          'G/s: GMACs a second\n')
    print('| detector | params (M) | train step (s) | backbone fwd+bwd (s) | rest (s) | '
          'peak (MiB) | step GMACs | backbone GMACs | rest GMACs | backbone G/s | rest G/s |'
          '\n|---|---|---|---|---|---|---|---|---|---|---|')
    for name in args.models:
        res = isolate(worker, name, DETECTORS[name], tuple(args.size), args.reps)
        rest, rest_macs = res['time'] - res['backbone'], res['macs'] - res['backbone_macs']
        print(f"| {name} | {res['params'] / 1e6:.1f} | {res['time']:.2f} | "
              f"{res['backbone']:.2f} | {rest:.2f} | {res['peak']:.0f} | "
              f"{res['macs'] / 1e9:.0f} | {res['backbone_macs'] / 1e9:.0f} | "
              f"{rest_macs / 1e9:.0f} | {res['backbone_macs'] / 1e9 / res['backbone']:.1f} | "
              f"{rest_macs / 1e9 / rest:.1f} |", flush=True)


if __name__ == '__main__':
    main()
