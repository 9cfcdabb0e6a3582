"""Timing and peak memory of a callable, each measurement in a process of its own (CPU).

Used by the benchmark scripts under ``tools/``. Peak memory is the process's resident-set
high-water mark above what it held before the first run; ``isolate`` sets glibc's mmap
threshold so that every large buffer is its own mapping, returned to the OS when freed, so the
high-water mark is the peak of live tensors rather than of the allocator's reuse pattern.
"""
import math
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


def _product_in_place(self_shape, a_shape, b_shape, *args, **kwargs) -> int:
    """FLOPs (2 per multiply-add) of ``addmm_`` / ``baddbmm_``: torch's table counts only the
    out-of-place products, and the clustering ops write many of theirs in place."""
    *batch, m, k = a_shape
    return 2 * m * k * b_shape[-1] * (batch[0] if batch else 1)


def _convolution_backward(grad_out_shape, x_shape, w_shape, _bias, _stride, _padding, _dilation,
                          transposed, _output_padding, _groups, output_mask, *args,
                          **kwargs) -> int:
    """FLOPs of a convolution's input and weight gradients: each as many as its forward.
    torch's formula takes the weight gradient of a grouped convolution for a dense one (it
    counts a depthwise convolution's ``channels`` times over)."""
    spatial = (x_shape if transposed else grad_out_shape)[2:]
    forward = 2 * grad_out_shape[0] * math.prod(spatial) * math.prod(w_shape)
    return forward * (int(output_mask[0]) + int(output_mask[1]))


def _attention(q_shape, k_shape, v_shape, *args, **kwargs) -> int:
    """FLOPs of the CPU's fused attention: ``q k^T`` and the weights times ``v``."""
    *heads, s_q, d_q = q_shape
    return 2 * math.prod(heads) * s_q * k_shape[-2] * (d_q + v_shape[-1])


def _attention_backward(grad_shape, q_shape, k_shape, v_shape, *args, **kwargs) -> int:
    """FLOPs of its backward: the scores again, then the gradients of the weights, ``v``,
    ``q`` and ``k`` (as torch counts the GPU kernels' backward)."""
    *heads, s_q, d_q = q_shape
    return 2 * math.prod(heads) * s_q * k_shape[-2] * (3 * d_q + 2 * v_shape[-1])


def count_step_flops(step: Callable[[], object]) -> int:
    """Multiply-adds of the matrix products and convolutions that one ``step()`` runs, forward
    and backward (``torch.utils.flop_counter``; a multiply-add counts once, as in
    ``count_flops``). Unlike ``count_flops`` it counts what runs: a training step's backward, a
    frozen stage's missing one, a recomputation. Norms, activations and elementwise ops are left
    out, as there. Products written in place, the CPU's fused attention and grouped
    convolutions' backward are counted here; torch's table leaves out the first two and
    over-counts the third."""
    from torch.utils.flop_counter import FlopCounterMode
    aten = torch.ops.aten
    counter = FlopCounterMode(display=False, custom_mapping={
        aten.addmm_: _product_in_place, aten.baddbmm_: _product_in_place,
        aten.convolution_backward: _convolution_backward,
        aten._scaled_dot_product_flash_attention_for_cpu: _attention,
        aten._scaled_dot_product_flash_attention_for_cpu_backward: _attention_backward})
    with counter:
        step()
    return counter.get_total_flops() // 2


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
