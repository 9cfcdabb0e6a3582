"""Backbone demo: run a Context-Cluster backbone on an image and draw its clusters.

Prints the four output maps (shape, stride), parameters and FLOPs (``mmengine.analysis``) and
the forward time, and writes ``clusters.png``: for the first block of each stage, every point's
center (head 0) as coloured regions over the image. Without ``--image`` a scene of the demo
dataset is drawn (and saved beside the result), so the demo needs no download.

    python tools/demo_backbone.py --arch small --out work_dirs/demo_backbone [--image IMG]
        [--checkpoint CKPT] [--trust-checkpoint] [--proposals 5]
"""
import argparse
import os
import time

import cv2
import numpy as np
import torch
from mmengine.analysis import parameter_count

from mmcoc.datasets import render_scene
from mmcoc.deployment.measure import count_flops
from mmcoc.models import ContextCluster
from mmcoc.utils import cli
from mmcoc.utils.checkpoint import load_checkpoint_file
from mmcoc.utils.weights_fit import checked_load, load_weights
from mmcoc.visualization import (
    ImageError,
    draw_cluster_map,
    find_cluster_sites,
    read_image,
    record_assignments,
    tile_grid,
)

MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)
STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--arch', default='small', choices=list(ContextCluster.arch_settings))
    parser.add_argument('--proposals', type=cli.int_range(1, 64), default=None,
                        help='centers per side (1-64)')
    parser.add_argument('--image', type=cli.input_file('image file'),
                        help='an image file (default: a synthetic scene)')
    parser.add_argument('--checkpoint', type=cli.checkpoint_file,
                        help='mmcoc or official Context-Cluster weights, a file or URL')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='unpickle --checkpoint in full (it can run code): only for a '
                        'file you trust; mmcoc checkpoints never need it')
    parser.add_argument('--out', type=cli.output_dir, default='work_dirs/demo')
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    if args.image:
        try:
            image = read_image(args.image)
        except ImageError as err:
            raise SystemExit(f'cannot read {args.image!r}: {err}') from None
    else:
        image = render_scene(np.random.default_rng(0), 256, 384).image
        cv2.imwrite(os.path.join(args.out, 'scene.png'), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    model = ContextCluster(args.arch, proposals=args.proposals, out_indices=(0, 1, 2, 3))
    if args.checkpoint:
        init_cfg = dict(type='Pretrained', checkpoint=args.checkpoint)
        try:
            state = load_checkpoint_file(args.checkpoint, trust=args.trust_checkpoint)
            with checked_load():
                load_weights(model, args.checkpoint, model.checkpoint_filter(init_cfg),
                             loaded=state)
        except (ValueError, RuntimeError, OSError, KeyError) as error:
            raise SystemExit(f'error: {error}')
    model.eval()
    x = torch.from_numpy((image.astype(np.float32) - MEAN) / STD).permute(2, 0, 1)[None]

    first_blocks = [site for site in find_cluster_sites(model) if site.block == 0]
    with torch.no_grad(), record_assignments(first_blocks) as assignments:
        start = time.perf_counter()
        outs = model(x)
        elapsed = time.perf_counter() - start
    flops = count_flops(model, (x, ))

    print(f'ContextCluster-{args.arch} on a {image.shape[1]}x{image.shape[0]} image '
          f'({"weights: " + args.checkpoint if args.checkpoint else "random init"})')
    print(f'{"stage":>5} {"stride":>6} {"output":>22}')
    for i, out in enumerate(outs):
        print(f'{i:>5} {4 * 2**i:>6} {str(tuple(out.shape)):>22}')
    print(f'params {parameter_count(model)[""] / 1e6:.2f}M, FLOPs {flops / 1e9:.2f}G '
          f'(mmengine.analysis), forward {elapsed:.3f} s')

    tiles = []
    for site in first_blocks:
        tile = draw_cluster_map(image, assignments[site.path][0, 0].numpy())
        cv2.putText(tile, f'{site.label} head 0', (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
    grid = tile_grid(tiles, columns=2, gap=0)
    path = os.path.join(args.out, 'clusters.png')
    cv2.imwrite(path, cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    print(f'cluster map written to {path}')


if __name__ == '__main__':
    main()
