"""torch.compile against eager: compile time and training-step time of CoC-small, FEC-small and
SecViT-T, as a classifier at 224 and as a backbone (four maps) at 512x768.

A step is forward + backward (+ an SGD update) on random inputs. Each case runs in a process of
its own: eager steps first (fastest of ``--reps`` after a warm-up), then ``torch.compile``: the
first compiled step's time is the compile time, then the fastest of ``--reps`` compiled steps.
A case that does not finish within ``--timeout`` seconds is reported as such.

    python tools/analysis_tools/benchmark_compile.py [--device cpu|cuda] [--backend inductor]
        [--batch 8] [--reps 3] [--cases 'CoC-small *' ...] [--timeout 900] [--dry-run]

``--dry-run``: tiny models at 64 px with the ``eager`` backend (seconds; checks the script).
"""
import argparse
import fnmatch
import platform
import time

import torch

from mmcoc.utils import cli

MODELS = {'CoC-small': ('coc_small', dict(type='mmcoc.ContextCluster', arch='small')),
          'FEC-small': ('fec_small', dict(type='mmcoc.FEC', arch='small')),
          'SecViT-T': ('secvit_t', dict(type='mmcoc.SecViT', arch='t'))}
TINY = dict(layers=[1, 1, 1, 1], embed_dims=[8, 16, 24, 32], heads=2, head_dim=4)


def build(name, kind, dry_run):
    import timm

    import mmcoc  # noqa: F401  (registers the timm models)
    from mmcoc.registry import MODELS as REGISTRY
    timm_name, backbone = MODELS[name]
    if dry_run:  # the same families, one block per stage
        if name == 'SecViT-T':
            arch = dict(embed_dims=[16, 32, 32, 64], depths=[1, 1, 1, 1], num_heads=[2, 2, 4, 4],
                        num_clusters=[4, 2, 1, 1])
        else:
            arch = dict(TINY, proposals=2, folds=1)
        backbone = dict(backbone, arch=arch)
        if kind == 'classifier':
            model = REGISTRY.build(dict(backbone, out_indices=(3, )))
            return torch.nn.Sequential(model, _Head(arch))
    if kind == 'classifier':
        return timm.create_model(timm_name)
    return REGISTRY.build(dict(backbone, out_indices=(0, 1, 2, 3)))


class _Head(torch.nn.Module):
    def __init__(self, arch):
        super().__init__()
        self.fc = torch.nn.Linear(arch['embed_dims'][-1], 10)

    def forward(self, maps):
        x = maps[-1] if isinstance(maps, (tuple, list)) else maps
        return self.fc(x.mean((2, 3)))


def worker(queue, name, kind, shape, device, backend, reps, dry_run):
    torch.manual_seed(0)
    model = build(name, kind, dry_run).to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
    x = torch.randn(shape, device=device)

    def sync():
        if device.startswith('cuda'):
            torch.cuda.synchronize()

    def step(fn):
        out = fn(x)
        outs = out if isinstance(out, (tuple, list)) else (out, )
        loss = sum(o.float().square().mean() for o in outs)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        sync()

    def best(fn):
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            step(fn)
            times.append(time.perf_counter() - start)
        return min(times)

    step(model)
    eager = best(model)
    compiled = torch.compile(model, backend=backend)
    start = time.perf_counter()
    step(compiled)
    compile_s = time.perf_counter() - start
    step(compiled)
    queue.put(dict(eager=eager, compile=compile_s, compiled=best(compiled)))


def run_case(args, name, kind, shape):
    from mmcoc.deployment.measure import isolate
    try:
        return isolate(worker, name, kind, shape, args.device, args.backend, args.reps,
                       args.dry_run, timeout=args.timeout)
    except TimeoutError:
        return None
    except RuntimeError as error:
        return dict(error=str(error).split(';')[0])  # 'measurement NAME failed (exit code N)'


def cases(args):
    size = 64 if args.dry_run else 224
    dense = (64, 96) if args.dry_run else (512, 768)
    rows = []
    for name in MODELS:
        rows.append((f'{name} classifier {args.batch}x3x{size}x{size}', name, 'classifier',
                     (args.batch, 3, size, size)))
        rows.append((f'{name} backbone 1x3x{dense[0]}x{dense[1]}', name, 'backbone',
                     (1, 3) + dense))
    if args.cases:
        rows = [r for r in rows if any(fnmatch.fnmatchcase(r[0], p) for p in args.cases)]
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', type=cli.device, default='cpu', help='cpu or cuda[:N]')
    parser.add_argument('--backend', default=None,
                        help='torch.compile backend (default inductor; eager with --dry-run)')
    parser.add_argument('--batch', type=cli.positive_int, default=8, help='classifier batch size')
    parser.add_argument('--reps', type=cli.positive_int, default=3)
    parser.add_argument('--timeout', type=cli.positive_float, default=900,
                        help='seconds per case')
    parser.add_argument('--cases', nargs='+', metavar='PATTERN',
                        help="rows to run, shell-style patterns e.g. 'SecViT-T *'")
    parser.add_argument('--dry-run', action='store_true',
                        help='tiny models, small inputs, eager backend: checks the script')
    args = parser.parse_args(argv)
    if args.backend is None:
        args.backend = 'eager' if args.dry_run else 'inductor'
    from mmcoc.deployment.compile import compile_support
    problem = compile_support(args.device, args.backend)
    if problem:
        raise SystemExit(f'torch.compile is not supported here: {problem}')
    if args.dry_run:
        args.batch, args.reps = min(args.batch, 2), 1
    device = torch.cuda.get_device_name(args.device) if args.device.startswith('cuda') else \
        f'{platform.machine()} CPU, {torch.get_num_threads()} threads'
    print(f'# torch {torch.__version__}, {device}, backend {args.backend}, fp32, fwd+bwd+SGD '
          f'step, fastest of {args.reps}{", DRY RUN (tiny models)" if args.dry_run else ""}\n')
    print('| case | compile (s) | eager step (s) | compiled step (s) | speed-up |\n'
          '|---|---|---|---|---|', flush=True)
    for label, name, kind, shape in cases(args):
        res = run_case(args, name, kind, shape)
        if res is None:
            print(f'| {label} | did not finish in {args.timeout:.0f} s | | | |', flush=True)
        elif 'error' in res:
            print(f"| {label} | {res['error']} | | | |", flush=True)
        else:
            print(f"| {label} | {res['compile']:.1f} | {res['eager']:.3f} | "
                  f"{res['compiled']:.3f} | {res['eager'] / res['compiled']:.2f}x |", flush=True)


if __name__ == '__main__':
    main()
