"""What the backbones need to be traced (torch.fx, ``torch.jit.trace``, ``torch.export``) and to
checkpoint their blocks: whether torch.fx or torch.export is tracing, and ``run_block``.

The clustering ops (``context_cluster``, ``cluster_pool``, ``equal_cluster_attention``) are
registered with timm as leaf functions (``register_notrace_function``): torch.fx records one call
of each instead of tracing their shape-dependent Python, and the traced graph calls them eagerly.
So is Context Clusters' block (``register_leaf_modules``), whose mixer half chooses its
computation from the map's size (``ContextClusterMixer.forward``): a traced graph runs the same
arithmetic as the eager model, bit for bit.
"""
import contextlib
from typing import Callable

import torch
from torch.fx.experimental.symbolic_shapes import statically_known_true
from torch.utils.checkpoint import checkpoint

try:
    from torch.fx._symbolic_trace import is_fx_symbolic_tracing as _is_fx_tracing
except ImportError:  # older torch
    from torch.fx._symbolic_trace import is_fx_tracing as _is_fx_tracing


def is_fx_tracing() -> bool:
    """True while torch.fx symbolically traces (its tensors are ``Proxy`` objects)."""
    return _is_fx_tracing()


def is_exporting() -> bool:
    """True while ``torch.export`` traces: the clustering ops then enter the graph as one
    opaque custom op each (``torch.ops.mmcoc.*``, run eagerly by the exported program), so
    their shape-dependent Python (padding, chunking, ranking) puts no guard on the dynamic
    height and width."""
    fn = getattr(torch.compiler, 'is_exporting', None)
    return bool(fn is not None and fn())


_decomposed = False


def exports_custom_ops() -> bool:
    """True while ``torch.export`` traces and the clustering ops should enter its graph as
    their opaque custom ops (``torch.ops.mmcoc.*``); False inside :func:`decomposed_ops`."""
    return is_exporting() and not _decomposed


@contextlib.contextmanager
def decomposed_ops():
    """Within: ``torch.export`` traces the clustering ops through their arithmetic (standard
    aten operators, which ONNX can translate) instead of recording their custom ops."""
    global _decomposed
    saved, _decomposed = _decomposed, True
    try:
        yield
    finally:
        _decomposed = saved


def compiles_without_export() -> bool:
    """True while ``torch.compile`` traces for a backend (not ``torch.export``): where an op is
    made opaque to inductor, whose fusion of it would be slower; export keeps its own ops."""
    return torch.compiler.is_compiling() and not is_exporting()


def traced_by_torch() -> bool:
    """True while ``torch.compile`` or ``torch.export`` traces (sizes may be symbols, and a
    tensor whose size depends on the data, or a Python loop over a size, breaks the graph)."""
    return torch.compiler.is_compiling() or is_exporting()


def traced_by_any() -> bool:
    """True while any tracer records the forward: torch.fx, torch.compile, torch.export or
    TorchScript's tracing. The eager-only fast paths (the Triton kernels, the MLP's chunked
    recomputation) step aside for every one of them: the plain formulation is what each can
    record."""
    return is_fx_tracing() or traced_by_torch() or torch.jit.is_tracing()


def records_autograd_function(*tensors: torch.Tensor) -> bool:
    """True where a custom ``torch.autograd.Function`` is worth running on ``tensors``: autograd
    records (grad enabled, one of them requires grad) and neither TorchScript tracing, which
    cannot record one, nor torch.export (inference) traces. Elsewhere the caller runs the same
    arithmetic plainly."""
    return not (torch.jit.is_tracing() or is_exporting()) and torch.is_grad_enabled() and any(
        t.requires_grad for t in tensors)


def known_true(*conditions) -> bool:
    """True when every one of ``conditions`` holds for certain: a plain bool that is True, or a
    condition on symbolic sizes (torch.compile with dynamic shapes, torch.export) that is
    provably true. One that holds only at the traced input is not: the caller takes its
    general path, with no guard on the sizes (static sizes, as in eager or a static compile,
    keep the fast path)."""
    # torch.jit.trace hands sizes over as 0-dim tensors; it records the traced size anyway
    return all(bool(c) if isinstance(c, torch.Tensor) else statically_known_true(c)
               for c in conditions)


def known_zero(*sizes) -> bool:
    """True when every one of ``sizes`` is 0 for certain (:func:`known_true`)."""
    return known_true(*(size == 0 for size in sizes))


def run_block(block: Callable, *args, with_cp: bool = False):
    """``block(*args)``, under activation checkpointing (``torch.utils.checkpoint``,
    non-reentrant) when ``with_cp`` and autograd records: the block's activations are dropped
    after forward and recomputed in backward, with the same outputs and gradients. Not under
    torch.fx or TorchScript tracing, which record the plain call."""
    if with_cp and torch.is_grad_enabled() and not (
            is_fx_tracing() or torch.jit.is_tracing() or torch.jit.is_scripting()):
        return checkpoint(block, *args, use_reentrant=False)
    return block(*args)


def register_leaf_functions(*functions: Callable):
    """Register ``functions`` with timm as leaves for torch.fx (no-op without timm)."""
    try:
        from timm.layers import register_notrace_function
    except ImportError:  # timm is optional for the OpenMMLab side
        return
    for fn in functions:
        register_notrace_function(fn)


def register_leaf_modules(*modules: type):
    """Register the module classes ``modules`` with timm as leaves for torch.fx (no-op
    without timm)."""
    try:
        from timm.layers import register_notrace_module
    except ImportError:  # timm is optional for the OpenMMLab side
        return
    for module in modules:
        register_notrace_module(module)
