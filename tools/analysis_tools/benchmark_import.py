"""What ``import mmcoc`` adds to a Python process: ``import torch, timm`` beside ``import torch,
timm, mmcoc`` + ``timm.create_model('coc_small')``, each in a fresh interpreter.

    python tools/analysis_tools/benchmark_import.py [--runs 5]

Runs alternate between the rows (so that a busy machine slows both alike) and the table gives
each row's median wall time, interpreter start-up included; the last line is the difference.
Whether mmdet, mmseg or mmpretrain were imported is printed beside it (they should not be: the
registry scope imports them when a config first names an mmcoc module).
"""
import argparse
import statistics
import subprocess
import sys
import time

ROWS = {
    'import torch, timm': 'import torch, timm',
    "+ import mmcoc; timm.create_model('coc_small')":
        "import torch, timm, mmcoc; timm.create_model('coc_small')",
}
HOSTS = "import sys; print(sorted(h for h in ('mmdet', 'mmseg', 'mmpretrain') if h in sys.modules))"


def timed(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, '-c', code], check=True)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=5, help='runs per row (default 5)')
    args = parser.parse_args()
    if args.runs < 1:
        parser.error(f'--runs must be at least 1, got {args.runs}')
    for code in ROWS.values():  # warm the file system cache first
        timed(code)
    times = {name: [] for name in ROWS}
    for _ in range(args.runs):
        for name, code in ROWS.items():
            times[name].append(timed(code))
    hosts = subprocess.run([sys.executable, '-c', f'{ROWS[list(ROWS)[1]]}; {HOSTS}'],
                           check=True, capture_output=True, text=True).stdout.strip()
    print(f'# {args.runs} runs per row, alternating, fresh interpreters (start-up included)\n')
    print('| process | median (s) | min (s) | max (s) |\n|---|---|---|---|')
    for name, values in times.items():
        print(f'| {name} | {statistics.median(values):.2f} | {min(values):.2f} | '
              f'{max(values):.2f} |')
    base, full = (statistics.median(v) for v in times.values())
    print(f'\nadded by mmcoc: {full - base:+.2f} s; host packages imported by it: {hosts}')


if __name__ == '__main__':
    main()
