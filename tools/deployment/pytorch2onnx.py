"""Export an mmcoc classifier, segmentor or backbone to ONNX and check it against PyTorch.

    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT OUT.onnx
        [--output {logits,labels,backbone}] [--shape H W] [--static-hw]
        [--verify B H W ...] [--latency]

CONFIG: an mmpretrain classifier config (output ``logits``), an mmseg Semantic FPN config
(``logits`` resized to the input, or the ``labels`` map) or any of them with ``--output
backbone`` (the backbone's maps, four for the dense configs; a Mask R-CNN config only this way:
detector export is out of scope). CHECKPOINT: a whole-model or backbone-only checkpoint, or
``random`` for random weights. The ONNX input is the data preprocessor's output (normalised,
``[B, 3, H, W]`` float32), named ``input``; batch, height and width are dynamic (height and
width from 64 to 4096; ``--static-hw`` keeps the traced ones).

The export uses standard ONNX operators only, is checked with ``onnx.checker`` and (with
``--verify``, default on) run with onnxruntime on the CPU and compared with PyTorch: the max
abs difference per input size, which must stay below ``--atol`` (1e-4), unless PyTorch itself
moves beyond it under 1e-6 input noise (argmax near ties; shown beside it): then within 4x
of that.
"""
import argparse
import json
import os
import sys

import torch

from mmcoc.deployment.onnx import MAX_SIDE, MIN_SIDE
from mmcoc.utils import cli

MAX_BATCH = 1024  # the dynamic batch dimension of mmcoc.deployment.onnx.export
BYTES_PER_PIXEL = cli.INFER_BYTES_PER_PIXEL  # per image pixel, PyTorch or onnxruntime


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', type=cli.config_file)
    parser.add_argument('checkpoint', type=cli.checkpoint_or_random,
                        help="checkpoint file, or 'random' for random weights")
    parser.add_argument('out', type=cli.output_file, help='the .onnx file to write')
    parser.add_argument('--output', choices=['logits', 'labels', 'backbone'], default='logits',
                        help='what the graph returns (default: logits)')
    parser.add_argument('--shape', nargs=2, type=cli.int_range(MIN_SIDE, MAX_SIDE, 'px'),
                        metavar=('H', 'W'),
                        help='traced input size (default: 224x224 classifiers, 512x512 else)')
    parser.add_argument('--static-hw', action='store_true',
                        help='keep the traced height and width (the batch stays dynamic)')
    parser.add_argument('--verify', nargs='*', type=cli.positive_int, metavar='B_H_W',
                        help='batch/size triples to compare, e.g. 1 224 224 2 224 224 3 224 '
                        '224 (default: batches 1, 2, 3 at three sizes, one of them not '
                        'dividing into the folds; with --static-hw at the traced size)')
    parser.add_argument('--no-verify', action='store_true', help='skip onnxruntime')
    parser.add_argument('--atol', type=cli.positive_float, default=1e-4)
    parser.add_argument('--latency', action='store_true',
                        help='also time onnxruntime vs PyTorch (CPU, batch 1, traced size)')
    parser.add_argument('--json', type=cli.output_file, help='write the results here as JSON')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='unpickle the checkpoint in full (it can run code): only for a '
                        'file you trust; mmcoc checkpoints never need it')
    args = parser.parse_args(argv)
    check_sizes(parser, args)
    return args


def check_sizes(parser, args):
    """--shape and --verify, before the export (minutes for the larger models)."""
    if args.verify:
        if len(args.verify) % 3:
            parser.error(f'--verify takes batch, height, width triples (got {len(args.verify)} '
                         'numbers), e.g. --verify 1 224 224 2 256 256')
        traced = tuple(args.shape) if args.shape else None
        for b, h, w in zip(*[iter(args.verify)] * 3):
            if b > MAX_BATCH:
                parser.error(f'--verify {b} {h} {w}: the batch of the export is 1-{MAX_BATCH}')
            if args.static_hw and traced and (h, w) != traced:
                parser.error(f'--verify {b} {h} {w}: with --static-hw the graph takes only the '
                             f'traced {traced[0]}x{traced[1]}; give --verify {b} {traced[0]} '
                             f'{traced[1]}')
            if not (MIN_SIDE <= h <= MAX_SIDE and MIN_SIDE <= w <= MAX_SIDE):
                parser.error(f'--verify {b} {h} {w}: height and width of the dynamic graph are '
                             f'{MIN_SIDE}-{MAX_SIDE} px')
            cli.check_fits(parser, f'--verify {b} {h} {w}', b * h * w * BYTES_PER_PIXEL,
                           f'the comparison (about {BYTES_PER_PIXEL} bytes per pixel)',
                           'give a smaller batch or size')
    if args.shape:
        h, w = args.shape
        # traced at batch 2; the export holds the graph's activations about twice
        cli.check_fits(parser, f'--shape {h} {w}', 4 * h * w * BYTES_PER_PIXEL,
                       f'the export (about {BYTES_PER_PIXEL} bytes per pixel, batch 2, twice)',
                       'give a smaller --shape, e.g. 224 224 or 512 512')


def verify_shapes(args, h, w):
    if args.verify:  # checked by check_sizes
        return [(b, 3, hh, ww) for b, hh, ww in zip(*[iter(args.verify)] * 3)]
    if args.static_hw:
        return [(1, 3, h, w), (2, 3, h, w), (3, 3, h, w)]
    # the traced size, one 32 px larger each way, one that no stride divides
    return [(1, 3, h, w), (2, 3, h + 32, w + 32), (3, 3, max(h - 21, 64), w + 37)]


def main(argv=None):
    args = parse_args(argv)
    from mmcoc.apis import load_model
    from mmcoc.deployment import onnx as deploy
    checkpoint = None if args.checkpoint == 'random' else args.checkpoint
    torch.manual_seed(0)
    try:
        loaded = load_model(args.config, checkpoint, trust=args.trust_checkpoint)
    except (ValueError, RuntimeError, OSError, KeyError) as error:
        # a checkpoint that does not fit, cannot be read or does not exist: one line
        raise SystemExit(f'error: {error}')
    try:
        module = deploy.wrap(loaded.model, loaded.task, args.output)
    except ValueError as error:
        raise SystemExit(f'{args.config}: {error}')
    h, w = args.shape or ((224, 224) if loaded.task == 'classification' else (512, 512))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    try:
        seconds = deploy.export(module, torch.randn(2, 3, h, w), args.out,
                                dynamic_hw=not args.static_hw)
    except ValueError as error:
        raise SystemExit(str(error))
    result = dict(config=args.config, weights=loaded.weights, output=args.output,
                  traced=[h, w], dynamic_hw=not args.static_hw, export_s=round(seconds, 1),
                  operators=deploy.operators(args.out),
                  custom_domains=deploy.custom_domains(args.out))
    print(f'wrote {args.out} in {seconds:.1f} s ({loaded.weights}); onnx.checker passed; '
          f'operators: {", ".join(result["operators"])}')
    if result['custom_domains']:
        raise SystemExit(f'non-standard operator domains: {result["custom_domains"]}')
    failed = False
    if not args.no_verify:
        rows = deploy.compare(module, args.out, verify_shapes(args, h, w))
        result['compare'] = rows
        for row in rows:
            bad = not deploy.within_tolerance(row, args.atol)
            failed |= bad
            print(f"  {'x'.join(map(str, row['shape']))}: max abs diff "
                  f"{row['max_abs_diff']:.2e}, labels differing {row['label_mismatch']:.2%} "
                  f"(PyTorch at {deploy.NOISE:g} input noise: {row['noise_diff']:.2e}, "
                  f"{row['noise_mismatch']:.2%}){'  FAILED' if bad else ''}")
    if args.latency:
        result['latency'] = deploy.latency(module, args.out, (1, 3, h, w))
        print(f"  latency 1x3x{h}x{w}: PyTorch {result['latency']['torch'] * 1e3:.1f} ms, "
              f"onnxruntime {result['latency']['onnxruntime'] * 1e3:.1f} ms")
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=1)
    if failed:
        sys.exit(f'onnxruntime differs from PyTorch by {args.atol} or more (and by over '
                 f'{deploy.TIE_FACTOR}x what PyTorch moves under {deploy.NOISE:g} input noise)')


if __name__ == '__main__':
    main()
