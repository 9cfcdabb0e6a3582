"""Bilinear resizing whose interpolation weights are exact before their one rounding.

``F.interpolate(mode='bilinear')`` in float32 computes each output pixel's source coordinate
``(x + 0.5) * in / out - 0.5`` in float32: at a ratio that is not a power of two the coordinate
of pixel 500 is off by up to ``500 * 2**-24``, and its weights with it. On maps whose
neighbours differ by tens (a Semantic FPN head's logits) this costs up to 1e-3 absolute, 500x
the rounding of the input itself; onnxruntime's ``Resize`` rounds its coordinates its own way,
so an exported segmentor and PyTorch drifted apart by more than the exporter's tolerance at
sizes no stride divides (issue 29). Here the source index and the weight come from integer
arithmetic (``(2x + 1) * in - out`` over ``2 * out``), the weight is rounded once to the map's
dtype, and the two neighbours are gathered: PyTorch and an exported graph (Gather, Mul, Add)
compute the same numbers, within the rounding of the map itself.
"""
from typing import Sequence, Tuple

import torch


def _axis_weights(in_size, out_size, align_corners: bool, device,
                  dtype) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per output index along one axis: the lower source index, the upper one, and the upper
    one's weight (``F.interpolate``'s bilinear rule, PyTorch's ``size=`` convention)."""
    x = torch.arange(out_size, device=device)
    if align_corners:
        numerator = x * (in_size - 1)
        denominator = max(out_size - 1, 1)
    else:
        # a negative source coordinate is clamped to 0, as F.interpolate does
        numerator = ((2 * x + 1) * in_size - out_size).clamp(min=0)
        denominator = 2 * out_size
    lower = torch.div(numerator, denominator, rounding_mode='floor')
    weight = ((numerator - lower * denominator).double() / denominator).to(dtype)
    upper = (lower + 1).clamp(max=in_size - 1)
    return lower, upper, weight


def _resize_axis(x: torch.Tensor, dim: int, out_size, align_corners: bool) -> torch.Tensor:
    lower, upper, weight = _axis_weights(x.shape[dim], out_size, align_corners, x.device,
                                         x.dtype)
    shape = [1] * x.dim()
    shape[dim] = -1
    weight = weight.view(shape)
    a, b = x.index_select(dim, lower), x.index_select(dim, upper)
    return torch.addcmul(a, b - a, weight)


def stable_bilinear_resize(x: torch.Tensor, size: Sequence[int],
                           align_corners: bool = False) -> torch.Tensor:
    """``F.interpolate(x, size, mode='bilinear', align_corners=align_corners)`` for a
    ``[N, C, H, W]`` map, with the interpolation weights exact up to one rounding (see the
    module's docstring). A side whose size does not change is left as it is."""
    if x.dim() != 4:
        raise ValueError(f'stable_bilinear_resize takes an [N, C, H, W] map, got '
                         f'{list(x.shape)}')
    height, width = size
    if _may_differ(height, x.shape[2]):
        x = _resize_axis(x, 2, height, align_corners)
    if _may_differ(width, x.shape[3]):
        x = _resize_axis(x, 3, width, align_corners)
    return x


def _may_differ(out_size, in_size) -> bool:
    # a symbolic size (torch.export, dynamic compile) is resized whatever it is at the traced
    # input: a comparison would fix the branch taken there for every size (at an equal size
    # the resize is exact: every weight is 0)
    if isinstance(out_size, int) and isinstance(in_size, int):
        return out_size != in_size
    return True
