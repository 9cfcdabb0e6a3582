"""ONNX export of the full variants: export time, onnxruntime vs PyTorch max abs difference and
CPU latency, one row per model (each exported by tools/deployment/pytorch2onnx.py in a process
of its own, random weights).

    python tools/analysis_tools/benchmark_onnx.py [--models NAME ...] [--out-dir DIR]
        [--timeout 1200]

Rows: the CoC-small, FEC-small and SecViT-T classifiers at 224 (logits), their backbones at
512x512 (four maps) and their Semantic FPN segmentors at 512x512 (logits). PyTorch and
onnxruntime latency: fastest of 5 single images after a warm-up, same threads.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from mmcoc.deployment.onnx import within_tolerance
from mmcoc.utils import cli

ROOT = Path(__file__).parents[2]
ROWS = {
    'CoC-small classifier': ('configs/context_cluster/coc_small_in1k.py', 'logits', 224),
    'FEC-small classifier': ('configs/fec/fec_small_in1k.py', 'logits', 224),
    'SecViT-T classifier': ('configs/secvit/secvit_t_in1k.py', 'logits', 224),
    'CoC-small backbone': ('configs/context_cluster/coc_small_fpn_ade20k.py', 'backbone', 512),
    'FEC-small backbone': ('configs/fec/fec_small_fpn_ade20k.py', 'backbone', 512),
    'SecViT-T backbone': ('configs/secvit/secvit_t_fpn_ade20k.py', 'backbone', 512),
    'CoC-small Semantic FPN': ('configs/context_cluster/coc_small_fpn_ade20k.py', 'logits', 512),
    'FEC-small Semantic FPN': ('configs/fec/fec_small_fpn_ade20k.py', 'logits', 512),
    'SecViT-T Semantic FPN': ('configs/secvit/secvit_t_fpn_ade20k.py', 'logits', 512),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--models', nargs='+', choices=list(ROWS), default=list(ROWS),
                        metavar='NAME', help='rows (default: all): ' + ', '.join(ROWS))
    parser.add_argument('--out-dir', type=cli.output_dir,
                        help='keep the .onnx files here (default: a temp dir)')
    parser.add_argument('--timeout', type=cli.positive_float, default=1200,
                        help='seconds per row')
    args = parser.parse_args(argv)
    out_dir = args.out_dir or tempfile.mkdtemp(prefix='mmcoc_onnx_')
    os.makedirs(out_dir, exist_ok=True)
    print(f'# torch {torch.__version__}, onnxruntime CPU, {torch.get_num_threads()} threads; '
          'dynamic batch, height and width, compared at three sizes (the traced one, 32 px '
          'more, one no stride divides)\n')
    print('| model | input | export (s) | max abs diff | PyTorch under 1e-6 input noise | '
          "passes the exporter's check | PyTorch (ms) | onnxruntime (ms) |\n"
          '|---|---|---|---|---|---|---|---|', flush=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    for name in args.models:
        config, output, size = ROWS[name]
        stem = name.replace(' ', '_').lower()
        path, report = os.path.join(out_dir, f'{stem}.onnx'), os.path.join(out_dir, f'{stem}.json')
        cmd = [sys.executable, str(ROOT / 'tools/deployment/pytorch2onnx.py'), config, 'random',
               path, '--output', output, '--shape', str(size), str(size), '--latency',
               '--json', report]
        try:
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                                  timeout=args.timeout)
        except subprocess.TimeoutExpired:
            print(f'| {name} | {size}x{size} | did not finish in {args.timeout:.0f} s | | | | | |',
                  flush=True)
            continue
        if not os.path.isfile(report):
            tail = (proc.stderr.strip().splitlines() or ['?'])[-1][:120]
            print(f'| {name} | {size}x{size} | failed: {tail} | | | | | |', flush=True)
            continue
        res = json.load(open(report))
        diff = max(r['max_abs_diff'] for r in res['compare'])
        noise = max(r['noise_diff'] for r in res['compare'])
        passed = all(within_tolerance(r) for r in res['compare'])
        lat = res['latency']
        print(f"| {name} | {size}x{size} | {res['export_s']:.0f} | {diff:.1e} | {noise:.1e} | "
              f"{'yes' if passed else 'no'} | {lat['torch'] * 1e3:.0f} | "
              f"{lat['onnxruntime'] * 1e3:.0f} |", flush=True)


if __name__ == '__main__':
    main()
