"""Training-step cost of PointMLP_CoC against PointMLP (the same network without its
context-cluster blocks): forward + backward time and peak memory.

Each model (``mmcoc.PointMLP`` + ``mmcoc.PointMLPClsHead``, the official settings, 15 classes,
random weights, train mode) runs in a process of its own on a batch of random clouds; the
time is the fastest of ``--reps`` forward+backward passes after a warm-up, the peak memory the
resident-set high-water mark above the loaded model (CPU) or ``torch.cuda.max_memory_allocated``
(GPU). With ``--rounds N`` the models take turns N times, each turn a fresh process, so that a
machine whose speed drifts slows both alike; the table gives the fastest time and the highest
peak of each, and both as ratios to PointMLP. Prints a markdown table; on the CPU a second one
times furthest-point sampling and kNN (the first stage's) against brute force on one batch and
checks they agree.

    python tools/analysis_tools/benchmark_pointcloud.py [--batch 32] [--points 1024] [--reps 3]
        [--rounds 1] [--device cpu|cuda]
"""
import argparse
import platform
import time

import torch

from mmcoc.deployment.measure import isolate, time_and_peak
from mmcoc.utils import cli

MODELS = {'PointMLP_CoC': True, 'PointMLP': False}


def worker(queue, name, batch, points, reps, device):
    from mmcoc.models.pointcloud import PointMLP, PointMLPClsHead
    torch.manual_seed(0)
    backbone = PointMLP(points=points, context_cluster=MODELS[name]).to(device)
    head = PointMLPClsHead(15).to(device)
    xyz = torch.rand(batch, points, 3, device=device) * 2 - 1
    target = torch.randint(0, 15, (batch, ), device=device)

    def step():
        loss = torch.nn.functional.cross_entropy(head(backbone(xyz)), target)
        loss.backward()
        if device == 'cuda':
            torch.cuda.synchronize()

    params = sum(p.numel() for m in (backbone, head) for p in m.parameters())
    if device == 'cuda':
        step()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        result = dict(time=min(times), peak=(torch.cuda.max_memory_allocated() - base) / 2**20)
    else:
        result = time_and_peak(step, reps)
    queue.put(dict(result, params=params))


def brute_force_fps(xyz: torch.Tensor, samples: int) -> torch.Tensor:
    """Furthest-point sampling recomputing every point's distance to every sample taken at each
    step (``ops.furthest_point_sample`` keeps one running minimum instead)."""
    B, N, _ = xyz.shape
    batch = torch.arange(B)
    keep = xyz.square().sum(-1) > 1e-3  # the CUDA kernel's skipped origin
    keep[:, 0] = True
    taken = torch.zeros(B, 1, dtype=torch.long)
    for _ in range(samples - 1):
        chosen = xyz[batch[:, None], taken]  # [B, i, 3]
        nearest = torch.cdist(xyz.double(), chosen.double()).square().min(-1).values
        nearest = torch.where(keep, nearest, torch.full_like(nearest, -1.0))
        taken = torch.cat([taken, nearest.argmax(-1, keepdim=True)], dim=1)
    return taken


def sampling_rows(batch: int, points: int):
    """Furthest-point sampling and kNN of the first stage (half the points sampled, 24
    neighbours) against brute force on one batch of clouds: (name, ours (s), brute (s), equal)."""
    from mmcoc.models.pointcloud.ops import furthest_point_sample, knn_query
    from mmcoc.testing.naive_pointcloud import naive_knn
    torch.manual_seed(0)
    xyz = torch.rand(batch, points, 3) * 2 - 1
    samples = points // 2

    def best(fn, reps=3):
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - start)
        return min(times), result

    t_fps, fps = best(lambda: furthest_point_sample(xyz, samples))
    t_fps_ref, fps_ref = best(lambda: brute_force_fps(xyz, samples), reps=1)
    queries = xyz[torch.arange(batch)[:, None], fps]
    t_knn, knn = best(lambda: knn_query(xyz, queries, 24))
    t_knn_ref, (knn_ref, dist) = best(lambda: naive_knn(xyz, queries, 24), reps=1)
    # the same neighbour sets, up to ties in distance
    same = torch.equal(dist.gather(-1, knn).sort(-1).values,
                       dist.gather(-1, knn_ref).sort(-1).values)
    return [(f'furthest-point sampling, {samples} of {points}', t_fps, t_fps_ref,
             torch.equal(fps, fps_ref)),
            (f'kNN, 24 of {points} for {samples} queries', t_knn, t_knn_ref, same)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--batch', type=cli.int_range(2, 1 << 16), default=32,
                        help='clouds per step (at least 2: batch norm in train mode)')
    parser.add_argument('--points', type=cli.int_range(32, 1 << 20), default=1024)
    parser.add_argument('--reps', type=cli.positive_int, default=3, help='timed steps per model')
    parser.add_argument('--rounds', type=cli.positive_int, default=1,
                        help='turns per model, alternating, each in a fresh process')
    parser.add_argument('--device', type=cli.device, default='cpu', help='cpu or cuda[:N]')
    args = parser.parse_args()
    where = torch.cuda.get_device_name() if args.device == 'cuda' else \
        f'CPU, {torch.get_num_threads()} threads'
    print(f'# torch {torch.__version__}, {platform.machine()}, {where}, fp32, train mode, '
          f'batches of {args.batch} x {args.points} points, forward + backward, fastest of '
          f'{args.reps} after a warm-up, {args.rounds} alternating round(s)\n')
    runs = {name: [] for name in MODELS}
    for round_ in range(args.rounds):
        for name in MODELS:
            runs[name].append(isolate(worker, name, args.batch, args.points, args.reps,
                                      args.device))
            print(f"round {round_ + 1}: {name} {runs[name][-1]['time']:.3f} s, "
                  f"{runs[name][-1]['peak']:.0f} MiB", flush=True)
    best = {name: dict(time=min(r['time'] for r in rs), peak=max(r['peak'] for r in rs),
                       params=rs[0]['params']) for name, rs in runs.items()}
    base = best['PointMLP']
    print('\n| model | params (M) | fwd+bwd (s) | clouds/s | peak (MiB) | time / PointMLP | '
          'peak / PointMLP |\n|---|---|---|---|---|---|---|')
    for name, res in best.items():
        print(f"| {name} | {res['params'] / 1e6:.2f} | {res['time']:.3f} | "
              f"{args.batch / res['time']:.1f} | {res['peak']:.0f} | "
              f"{res['time'] / base['time']:.2f}x | {res['peak'] / base['peak']:.2f}x |",
              flush=True)
    if args.device == 'cpu':
        print(f'\n| op (batch {args.batch}, CPU) | mmcoc (s) | brute force (s) | speed-up | '
              'same result |\n|---|---|---|---|---|')
        for name, ours, brute, same in sampling_rows(args.batch, args.points):
            print(f'| {name} | {ours:.4f} | {brute:.3f} | {brute / ours:.0f}x | '
                  f'{"yes" if same else "NO"} |', flush=True)


if __name__ == '__main__':
    main()
