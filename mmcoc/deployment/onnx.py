"""ONNX export of mmcoc models through standard ONNX operators, checked against PyTorch.

``torch.onnx.export(..., dynamo=True)`` (``torch.export`` then onnxscript) translates every
operator of the clustering layers into a standard one (ArgMax, GatherElements, ScatterND,
MatMul, ...) except ``aten.sort.stable`` (SecViT's ranking of the tokens), translated here to
``TopK`` over the whole axis, which the ONNX specification makes stable (of equal values the
lower index comes first); so no custom operator is needed at inference. (FEC's cluster sizes
are an ``index_add`` while traced, never a ``bincount``.)

Inputs are the tensors the model's data preprocessor outputs (normalised, RGB or BGR as the
config says, ``[B, 3, H, W]`` float32). Batch, height and width are dynamic (height and width
from :data:`MIN_SIDE` to :data:`MAX_SIDE`; ``dynamic_hw=False`` keeps the traced ones): with
symbolic sizes the clustering layers take their padded path whatever the size, which equals
the unpadded one on a map that divides into its regions, so one graph serves every size.
"""
import copy
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmcoc.models.layers.resize import stable_bilinear_resize

OUTPUTS = ('backbone', 'logits', 'labels')
# Sides of a dynamic-size export: at 64 every stage of a stride-32 backbone holds a 2x2 map
# (a side of 1 would be specialised by torch.export); 4096 bounds nothing in the graph.
MIN_SIDE, MAX_SIDE = 64, 4096


def _translations() -> Dict:
    from onnxscript import opset18 as op

    def sort_stable(self, stable=None, dim=-1, descending=False):
        k = op.Gather(op.Shape(self), op.Constant(value_ints=[dim]), axis=0)
        return op.TopK(self, k, axis=dim, largest=1 if descending else 0, sorted=1)

    return {torch.ops.aten.sort.stable: sort_stable}


class BackboneOutputs(nn.Module):
    """A backbone whose forward returns its (four) maps as a tuple."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone

    def forward(self, x):
        return tuple(self.backbone(x))


class ClassifierLogits(nn.Module):
    """An mmpretrain ``ImageClassifier``: preprocessed images -> class logits ``[B, classes]``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x, mode='tensor')


class SegmentorOutputs(nn.Module):
    """An mmseg encoder-decoder (whole-image inference): preprocessed images -> logits resized
    to the input ``[B, classes, H, W]``, or the label map ``[B, H, W]`` (int64)."""

    def __init__(self, model: nn.Module, labels: bool = False):
        super().__init__()
        self.model, self.labels = model, labels

    def forward(self, x):
        logits = self.model.decode_head(self.model.extract_feat(x))
        # exact bilinear weights: a float32 F.interpolate and onnxruntime's Resize round their
        # source coordinates differently, by up to 1e-3 of these logits at sizes no stride
        # divides (mmcoc.models.layers.resize)
        logits = stable_bilinear_resize(logits, x.shape[2:],
                                        self.model.decode_head.align_corners)
        return logits.argmax(dim=1) if self.labels else logits


class SymbolicUpsample(nn.Module):
    """mmseg's ``Upsample`` (a scale factor, no fixed size) with its output size kept as an
    expression of the input's: mmseg computes it with ``int()``, which an export evaluates at
    the traced size and then keeps, so every other size would be resized to the traced one."""

    def __init__(self, upsample: nn.Module):
        super().__init__()
        self.scale_factor = upsample.scale_factor
        self.mode, self.align_corners = upsample.mode, upsample.align_corners

    def forward(self, x):
        scale = self.scale_factor
        if float(scale).is_integer():
            size = [t * int(scale) for t in x.shape[-2:]]
        else:
            size = [torch.sym_int(t * scale) for t in x.shape[-2:]]
        return F.interpolate(x, size, None, self.mode, self.align_corners)


def _with_symbolic_upsampling(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose mmseg ``Upsample`` modules (scale factor only) are
    :class:`SymbolicUpsample` (the model passed in is left as it is)."""
    from mmseg.models.utils import Upsample
    if not any(isinstance(m, Upsample) for m in model.modules()):
        return model
    model = copy.deepcopy(model)
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if isinstance(child, Upsample) and not child.size and not isinstance(
                    child.scale_factor, tuple):
                setattr(parent, name, SymbolicUpsample(child))
    return model


def wrap(model: nn.Module, task: str, output: str) -> nn.Module:
    """The module to export: ``output`` of ``OUTPUTS`` for a model of ``task`` (``classification``,
    ``segmentation``, ``detection``: from :func:`mmcoc.apis.load_model`)."""
    if output not in OUTPUTS:
        raise ValueError(f'output must be one of {OUTPUTS}, got {output!r}')
    if task == 'detection' and output != 'backbone':
        raise ValueError('Mask R-CNN (and any mmdet detector) export is out of scope: '
                         'export its backbone (--output backbone) and run the heads in PyTorch')
    if output == 'backbone':
        # the maps of the config's out_indices (the Semantic FPN and Mask R-CNN configs: 4)
        return BackboneOutputs(model.backbone).eval()
    if task == 'classification':
        if output == 'labels':
            raise ValueError("a classifier exports its logits (output='logits')")
        return ClassifierLogits(model).eval()
    return SegmentorOutputs(_with_symbolic_upsampling(model), labels=output == 'labels').eval()


def _group_norm_in_short_sums(input, num_groups, weight=None, bias=None, eps=1e-5):
    """``F.group_norm`` with each statistic a mean of means over one axis at a time (at most a
    map's side, or a group's channels, per sum)."""
    n, c = input.shape[:2]
    x = input.reshape(n, num_groups, c // num_groups, *input.shape[2:])
    ones = [1] * (x.dim() - 2)

    def mean(t):
        for _ in range(t.dim() - 2):
            t = t.mean(dim=-1)
        return t.view(n, num_groups, *ones)

    centered = x - mean(x)
    y = (centered * torch.rsqrt(mean(centered.square()) + eps)).reshape(input.shape)
    affine = (1, c) + (1, ) * (input.dim() - 2)
    if weight is not None:
        y = y * weight.view(affine)
    if bias is not None:
        y = y + bias.view(affine)
    return y


class _GroupNormInShortSums(torch.overrides.TorchFunctionMode):
    """While exporting, GroupNorm as :func:`_group_norm_in_short_sums`. onnxruntime's
    InstanceNormalization and ReduceMean add a whole group in one float32 running sum: over
    GroupNorm(1) of a stage-0 CoC map (a million values) that is off by 1.7e-4 of outputs of
    magnitude 12, where PyTorch's pairwise sums are off by 9e-7; the error carried through a
    Semantic FPN to its logits. Sums of one axis at a time keep onnxruntime within PyTorch's
    rounding. PyTorch itself (eager, the comparison) is unchanged."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is F.group_norm:
            return _group_norm_in_short_sums(*args, **(kwargs or {}))
        return func(*args, **(kwargs or {}))


def export(module: nn.Module, example: torch.Tensor, path: str,
           dynamic_hw: bool = True, opset: int = 18) -> float:
    """Export ``module`` at ``example`` to ``path`` (dynamic batch, and height and width unless
    ``dynamic_hw=False``), check it with ``onnx.checker``; returns the export time (s)."""
    import onnx
    from torch.export import Dim

    from mmcoc.models.layers.tracing import decomposed_ops
    if dynamic_hw and min(example.shape[2:]) < MIN_SIDE:
        raise ValueError(f'trace a dynamic-size export at {MIN_SIDE}x{MIN_SIDE} or more, got '
                         f'{tuple(example.shape[2:])}')
    # DYNAMIC: an export that would fix a dynamic size stops (rather than quietly keeping the
    # traced one); relations between sizes that hold over the whole range are allowed
    dims = {0: Dim.DYNAMIC(min=1, max=1024)}
    if dynamic_hw:
        side = Dim.DYNAMIC(min=MIN_SIDE, max=MAX_SIDE)
        dims.update({2: side, 3: side})
    start = time.perf_counter()
    with torch.no_grad(), decomposed_ops(), _GroupNormInShortSums():
        program = torch.export.export(module, (example, ), dynamic_shapes={'x': dims},
                                      strict=False)
        torch.onnx.export(program, (example, ), path, input_names=['input'], opset_version=opset,
                          custom_translation_table=_translations(), dynamo=True,
                          external_data=False, verbose=False)
    onnx.checker.check_model(path, full_check=True)
    return time.perf_counter() - start


def operators(path: str) -> List[str]:
    """The ONNX operator types of the exported graph (all of the standard ``ai.onnx`` domain
    when :func:`custom_domains` is empty)."""
    import onnx
    return sorted({n.op_type for n in onnx.load(path).graph.node})


def custom_domains(path: str) -> List[str]:
    """Operator domains other than the standard one (should be empty)."""
    import onnx
    model = onnx.load(path)
    domains = {n.domain for n in model.graph.node} | {f.domain for f in model.functions}
    return sorted(d for d in domains if d not in ('', 'ai.onnx'))


def session(path: str, threads: Optional[int] = None):
    import onnxruntime as ort
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])


def _as_tuple(out) -> Tuple[torch.Tensor, ...]:
    return tuple(out) if isinstance(out, (tuple, list)) else (out, )


def _differences(outputs, references, shape) -> Tuple[float, float]:
    """Max abs difference over the float outputs, largest fraction of differing labels."""
    if len(outputs) != len(references):
        raise AssertionError(f'{len(outputs)} outputs against {len(references)} at {shape}')
    diff, mismatch = 0.0, 0.0
    for a, r in zip(outputs, references):
        a, r = np.asarray(a), r.numpy()
        if a.shape != r.shape:
            raise AssertionError(f'ONNX output {a.shape} != PyTorch {r.shape} at {shape}')
        if np.issubdtype(r.dtype, np.integer):
            mismatch = max(mismatch, float((a != r).mean()))
        else:
            diff = max(diff, float(np.abs(a - r).max()))
    return diff, mismatch


# Input noise of the reference's own-sensitivity check: the size of the differences between two
# float32 kernels' roundings of the first layers.
NOISE = 1e-6


def compare(module: nn.Module, path: str, shapes: Sequence[Tuple[int, int, int, int]],
            seed: int = 0) -> List[Dict]:
    """Run the export with onnxruntime (CPU) and ``module`` with PyTorch on random inputs of
    each shape; per shape the max abs difference over all outputs (labels: the fraction of
    pixels whose label differs), and the same between PyTorch at the input and PyTorch at the
    input plus Gaussian noise of :data:`NOISE` (``noise_diff``, ``noise_mismatch``).

    The clustering layers take argmaxes (the nearest center, a ranking): where two candidates
    are within rounding of each other, any two float32 kernels may choose differently and the
    output moves by far more than the rounding. The noise columns show whether PyTorch itself
    moves that much on this input; a difference well above them is the export's.
    """
    sess = session(path)
    name = sess.get_inputs()[0].name
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for shape in shapes:
        x = torch.randn(shape, generator=generator)
        with torch.no_grad():
            ref = _as_tuple(module(x))
            noisy = _as_tuple(module(x + NOISE * torch.randn(shape, generator=generator)))
        diff, mismatch = _differences(sess.run(None, {name: x.numpy()}), ref, shape)
        noise_diff, noise_mismatch = _differences([t.numpy() for t in noisy], ref, shape)
        rows.append(dict(shape=tuple(shape), max_abs_diff=diff, label_mismatch=mismatch,
                         noise_diff=noise_diff, noise_mismatch=noise_mismatch))
    return rows


# How much further than PyTorch under NOISE the export may be on an input with near ties: each
# is one draw of which near-tied argmaxes flip, so the two are of one order, not one value.
TIE_FACTOR = 4


def within_tolerance(row: Dict, atol: float = 1e-4, max_mismatch: float = 1e-3) -> bool:
    """A :func:`compare` row passes: below ``atol`` (and at most ``max_mismatch`` of the labels
    differ), or, where PyTorch itself moves beyond them under :data:`NOISE` (argmax near ties on
    this input), within :data:`TIE_FACTOR` times what PyTorch moves."""
    def ok(value, limit, noise):
        return value < limit or (noise >= limit and value <= TIE_FACTOR * noise)

    return (ok(row['max_abs_diff'], atol, row['noise_diff'])
            and ok(row['label_mismatch'], max_mismatch + 1e-12, row['noise_mismatch']))


def latency(module: nn.Module, path: str, shape, reps: int = 5) -> Dict[str, float]:
    """Fastest of ``reps`` runs after a warm-up: onnxruntime CPU vs PyTorch eager CPU (s)."""
    sess = session(path, threads=torch.get_num_threads())
    name = sess.get_inputs()[0].name
    x = torch.randn(shape)
    feed = {name: x.numpy()}

    def best(fn):
        fn()
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    with torch.inference_mode():
        torch_s = best(lambda: module(x))
    return dict(torch=torch_s, onnxruntime=best(lambda: sess.run(None, feed)))
