"""Resident memory of one process running mmdet's ``DetInferencer`` over many images.

    python tools/check_inference_memory.py [--config CONFIG] [--checkpoint CKPT]
        [--trust-checkpoint] [--images 1000] [--every 50] [--tolerance 0.10]
        [--out docs/inference_memory.md]

Images of mixed sizes (16 to 640 px per side, drawn from a seed, written as PNG files, since
file paths are what the inferencer gets in use) go through the inferencer one call at a time,
results dropped; the resident set size (RSS) is printed after every ``--every`` images. Fails
(exit 1) if any later figure is more than ``--tolerance`` above the one after the first
``--every`` images (the warm-up: lazy allocations, the allocator's first pools). ``--out``
writes the figures as a Markdown table.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from mmcoc.deployment.measure import current_rss_mb
from mmcoc.utils import cli

DEMO = 'configs/demo/coc_tiny_maskrcnn_demo.py'


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', type=cli.config_file, default=DEMO)
    parser.add_argument('--checkpoint', type=cli.checkpoint_file,
                        help='weights, a file or URL (default: random, as initialised)')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='unpickle --checkpoint in full (it can run code): only for a '
                        'file you trust; mmcoc checkpoints never need it')
    parser.add_argument('--images', type=cli.positive_int, default=1000)
    parser.add_argument('--every', type=cli.positive_int, default=50)
    parser.add_argument('--tolerance', type=cli.float_range(0), default=0.10)
    parser.add_argument('--seed', type=cli.nonnegative_int, default=0)
    parser.add_argument('--out', type=cli.output_file,
                        help='write the figures to this Markdown file')
    args = parser.parse_args()
    if args.every > args.images:  # no figure at all: rows[0] of nothing
        parser.error(f'--every {args.every} is more than --images {args.images}: the RSS is '
                     'printed after every --every images; give --every at most --images')
    return args


def write_images(folder: Path, count: int, seed: int):
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        height, width = rng.integers(16, 641, size=2)
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        path = folder / f'{i:04d}.png'
        cv2.imwrite(str(path), image)
        paths.append(path)
    return paths


def main():
    args = parse_args()
    from mmdet.apis import DetInferencer

    from mmcoc.apis import load_model
    torch.manual_seed(args.seed)
    # the inferencer's own loading unpickles a URL in full and checks no fit: the weights
    # come through mmcoc's reader and fit policy instead
    inferencer = DetInferencer(model=args.config, weights=None, device='cpu',
                               show_progress=False)
    if args.checkpoint:
        try:
            loaded = load_model(args.config, args.checkpoint, trust=args.trust_checkpoint,
                                cluster_sites=False)
        except (ValueError, RuntimeError, OSError, KeyError) as error:
            raise SystemExit(f'error: {error}')
        inferencer.model.load_state_dict(loaded.model.state_dict())
        del loaded
    rows = []
    start = time.time()
    with tempfile.TemporaryDirectory() as folder:
        paths = write_images(Path(folder), args.images, args.seed)
        for done, path in enumerate(paths, 1):
            inferencer(str(path), return_vis=False, no_save_vis=True, no_save_pred=True)
            if done % args.every == 0:
                rows.append((done, current_rss_mb(), time.time() - start))
                print(f'{done:5d} images  RSS {rows[-1][1]:8.1f} MiB  {rows[-1][2]:7.1f} s',
                      flush=True)
    base = rows[0][1]
    worst = max(rss for _, rss, _ in rows)
    growth = worst / base - 1
    ok = growth <= args.tolerance
    print(f'after the first {args.every}: {base:.1f} MiB; highest later: {worst:.1f} MiB '
          f'({growth:+.1%}; limit {args.tolerance:+.0%}): {"flat" if ok else "GROWS"}')
    if args.out:
        lines = ['# Inference memory: `tools/analysis_tools/check_inference_memory.py`', '',
                 f'`{" ".join(sys.argv)}`, torch {torch.__version__}, '
                 f'{torch.get_num_threads()} thread(s), {time.strftime("%Y-%m-%d")}: mmdet\'s '
                 f'`DetInferencer` ({args.config}, '
                 f'{"weights " + args.checkpoint if args.checkpoint else "random weights"}) on '
                 f'{args.images} PNG images of 16-640 px per side, one call each.', '',
                 f'Highest RSS after the first {args.every} images: {growth:+.1%} of the value '
                 f'after them ({base:.1f} MiB); limit {args.tolerance:+.0%}: '
                 f'**{"flat" if ok else "grows"}**.', '',
                 '| images | RSS (MiB) | elapsed (s) |', '|---|---|---|']
        lines += [f'| {done} | {rss:.1f} | {elapsed:.0f} |' for done, rss, elapsed in rows]
        Path(args.out).write_text('\n'.join(lines) + '\n')
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
