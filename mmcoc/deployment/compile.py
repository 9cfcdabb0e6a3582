"""``torch.compile`` of the mmcoc backbones: graph-break counts, recompilations, support checks.

mmengine compiles a runner's ``train_step`` when the config holds ``compile=True`` (or a dict
of ``torch.compile`` options); ``tools/train.py --compile`` sets it after
:func:`compile_support` found nothing missing on this machine.
"""
import importlib
import platform
import shutil
import sys
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn


def compile_support(device: str = 'cpu', backend: str = 'inductor') -> Optional[str]:
    """None where ``torch.compile(backend=backend)`` can run on ``device`` here, else why not."""
    if not hasattr(torch, 'compile'):
        return f'torch {torch.__version__} has no torch.compile (PyTorch >= 2.0 needed)'
    try:
        importlib.import_module('torch._dynamo')
    except Exception as error:  # e.g. a Python newer than this torch's dynamo supports
        return (f'torch.compile is not supported by torch {torch.__version__} on Python '
                f'{platform.python_version()}: {error}')
    if backend != 'inductor':
        return None
    if device.startswith('cuda'):
        if not torch.cuda.is_available():
            return 'CUDA is not available'
        try:
            import triton  # noqa: F401
        except ImportError:
            return ('the inductor backend needs triton on a GPU (pip install triton), or use '
                    "compile=dict(backend='aot_eager')")
        return None
    if sys.platform == 'win32' and not shutil.which('cl'):
        return ('the inductor backend needs MSVC (cl.exe) on Windows; run from a Visual Studio '
                "developer prompt, or use compile=dict(backend='aot_eager')")
    if not any(shutil.which(cc) for cc in ('cc', 'gcc', 'g++', 'clang', 'clang++', 'c++')):
        return ('the inductor backend needs a C++ compiler on the CPU (install gcc or clang), '
                "or use compile=dict(backend='aot_eager')")
    return None


def explain(model: nn.Module, *inputs) -> Dict:
    """``torch._dynamo.explain``: graphs, graph breaks and their reasons (first line of each)."""
    import torch._dynamo as dynamo
    dynamo.reset()
    with torch.no_grad():
        result = dynamo.explain(model)(*inputs)
    reasons = []
    for item in result.break_reasons:
        line = str(item.reason).strip().splitlines()[0] if str(item.reason).strip() else '?'
        detail = [ln.strip() for ln in str(item.reason).splitlines()[1:2]]
        reasons.append(' '.join([line] + detail))
    dynamo.reset()
    return dict(graphs=result.graph_count, breaks=result.graph_break_count,
                reasons=sorted(set(reasons)))


def count_compiles(model: nn.Module, shapes: Sequence[Sequence[int]], dynamic=None,
                   mark_batch_dynamic: bool = False) -> int:
    """Frames dynamo compiles while ``model`` runs on inputs of ``shapes`` (1 = no
    recompilation), traced only (a counting backend: no code generation)."""
    import torch._dynamo as dynamo
    from torch._dynamo.testing import CompileCounter
    dynamo.reset()
    counter = CompileCounter()
    compiled = torch.compile(model, backend=counter, dynamic=dynamic)
    for shape in shapes:
        x = torch.randn(*shape)
        if mark_batch_dynamic:
            dynamo.mark_dynamic(x, 0)
        with torch.no_grad():
            compiled(x)
    dynamo.reset()
    return counter.frame_count


