"""Timing and peak memory of a callable, each measurement in a process of its own (CPU).

Used by the benchmark scripts under ``tools/``. Peak memory is the process's resident-set
high-water mark above what it held before the first run; ``isolate`` sets glibc's mmap
threshold so that every large buffer is its own mapping, returned to the OS when freed, so the
high-water mark is the peak of live tensors rather than of the allocator's reuse pattern.
"""
import multiprocessing as mp
import os
import resource
import time
from typing import Callable, Optional, Tuple

import torch
import torch.nn as nn


def current_rss_mb() -> float:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


def count_flops(model: nn.Module, inputs: Tuple) -> int:
    """FLOPs of ``model(*inputs)`` by ``mmengine.analysis`` (a multiply-add counts once, fvcore's
    convention). Ops it has no formula for (norms, elementwise ops, the clustering's argmax and
    scatter) are left out without a warning each."""
    from mmengine.analysis import FlopAnalyzer
    with torch.no_grad():
        return FlopAnalyzer(model, inputs).unsupported_ops_warnings(False) \
            .uncalled_modules_warnings(False).total()


def time_and_peak(step: Callable[[], object], reps: int) -> dict:
    """Run ``step`` once to warm up and ``reps`` times timed: fastest time (s), peak (MiB)."""
    base = current_rss_mb()
    times = []
    for _ in range(reps + 1):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    return dict(time=min(times[1:]), peak=peak)


def isolate(target: Callable, *args, timeout: Optional[float] = None):
    """Run ``target(queue, *args)`` in a fresh spawned process and return what it puts.

    Raises ``TimeoutError`` (the process killed) when it runs past ``timeout`` seconds, and
    ``RuntimeError`` naming the exit code when it fails."""
    os.environ.setdefault('MALLOC_MMAP_THRESHOLD_', '131072')  # inherited by the child
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(queue, *args))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        proc.join()
        raise TimeoutError(f'measurement {args[0] if args else ""} ran past {timeout} s')
    if proc.exitcode != 0:
        raise RuntimeError(f'measurement {args[0] if args else ""} failed (exit code '
                           f'{proc.exitcode}); its traceback is printed above')
    return queue.get()
