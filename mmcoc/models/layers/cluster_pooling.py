"""FEC's downsampling by clustering ("ClusterPool", CVPR'24 "Neural Clustering based Visual
Representation Learning").

Centers are the 2x2 average-pooled points (the target resolution, stride 2). Every input point
joins the center it is most similar to by plain cosine similarity (no sigmoid: there is no
dispatch to weight), searched among **all** centers of its region (the whole map, or one of
``folds x folds`` regions as the released code splits big inputs), not only the center whose
2x2 window holds it. A center's new feature is the mean of its pooled value and its members'
values, ``(v_m + sum_{n in m} v_n) / (1 + |m|)``; a center nobody joins keeps its pooled value.

The argmax is taken over chunks of points without autograd, so neither the ``[groups, centers,
points, dim]`` products of the reference nor a full ``[groups, centers, points]`` similarity
matrix is ever held; the aggregation is one row scatter (``index_add``).
"""
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer

from .assignment import RecordsAssignment
from .clustering import (
    argmax_of_valid,
    cluster_rows,
    cluster_sizes,
    region_side,
    region_validity,
)
from .tracing import exports_custom_ops, known_zero, traced_by_torch

# Elements of one chunk of the [groups, centers, points] cosine matrix (64 MiB in float32).
SIMILARITY_CHUNK = 1 << 24
STRIDE = 2


def _nearest_center(points: torch.Tensor, centers: torch.Tensor,
                    center_valid: Optional[torch.Tensor]) -> torch.Tensor:
    """``[G, N]`` index of each point's most cosine-similar center, chunked over points.

    ``centers`` ``[G, c, M]`` are L2-normalised, ``points`` ``[G, N, c]`` need not be: a
    point's norm scales all its products alike, so its argmax is the same without the rounding
    of a division (a zero point ties everywhere and takes the first center, as normalised).
    ``center_valid`` ``[1, R, M]`` (or None) rules out centers whose window holds no real point.
    Centers are the last, contiguous axis of each chunk: an argmax across strided rows is
    several times slower.
    """
    G, N, _ = points.shape
    M = centers.shape[2]
    valid = None if center_valid is None else center_valid.unsqueeze(2)  # [1, R, 1, M]
    if traced_by_torch():
        # one chunk: a Python loop over a (maybe symbolic) size would fix it in the graph
        return argmax_of_valid(torch.bmm(points, centers), valid)
    chunk = max(1, SIMILARITY_CHUNK // max(G * M, 1))
    assignment = torch.empty(G, N, dtype=torch.long, device=points.device)
    for start in range(0, N, chunk):
        dots = torch.bmm(points[:, start:start + chunk], centers)  # [G, n, M]
        assignment[:, start:start + chunk] = argmax_of_valid(dots, valid)
    return assignment


def cluster_pool(feats: torch.Tensor,
                 values: torch.Tensor,
                 folds: int = 1,
                 return_assignment: bool = False):
    """Pool a map to half its size by clustering its points around 2x2-pooled centers.

    Args:
        feats: ``[B, c, H, W]`` features the (cosine) similarity is measured on. Only the
            argmax sees them: no gradient reaches them.
        values: ``[B, d, H, W]`` features that are aggregated.
        folds: regions per side; each of the ``folds ** 2`` regions is clustered on its own.
        return_assignment: also return each input point's center, ``[B, 1, H, W]`` (long),
            numbered ``region * centers_per_region + center`` with regions and centers in
            row-major order.

    Any ``H x W`` is accepted, as a stride-2 conv would: the output is
    ``ceil(H / 2) x ceil(W / 2)``. A map that does not divide into ``folds`` regions of even
    size is padded at the bottom/right; padded points join no cluster and are left out of the
    center pooling (a center over padding only is never chosen and is cropped away).

    Returns:
        ``[B, d, ceil(H / 2), ceil(W / 2)]`` (and the assignment when asked for).
    """
    if exports_custom_ops() and not return_assignment:
        return torch.ops.mmcoc.cluster_pool(feats, values, folds)
    if feats.dim() != 4 or values.dim() != 4 or feats.shape[0] != values.shape[0] \
            or feats.shape[2:] != values.shape[2:]:
        raise ValueError('feats and values must be [B, C, H, W] maps of the same batch and size, '
                         f'got {tuple(feats.shape)} and {tuple(values.shape)}')
    if not isinstance(folds, int) or folds < 1:
        raise ValueError(f'folds must be a positive int, got {folds!r}')
    B, c, H, W = feats.shape
    d = values.shape[1]
    f = folds
    h, w = region_side(H, f, STRIDE), region_side(W, f, STRIDE)
    pad_h, pad_w = h * f - H, w * f - W
    padded = not known_zero(pad_h, pad_w)
    if padded:
        feats = F.pad(feats, (0, pad_w, 0, pad_h))
        values = F.pad(values, (0, pad_w, 0, pad_h))
    ch, cw = h // STRIDE, w // STRIDE
    R = f * f
    G, N, M = B * R, h * w, ch * cw

    # [B, c, f, h, f, w] -> [B, f, f, c, h, w]: regions become groups
    x = feats.view(B, c, f, h, f, w).permute(0, 2, 4, 1, 3, 5).reshape(G, c, h, w)
    v = values.view(B, d, f, h, f, w).permute(0, 2, 4, 1, 3, 5).reshape(G, d, h, w)
    centers = F.avg_pool2d(x, STRIDE).reshape(G, c, M)
    value_centers = F.avg_pool2d(v, STRIDE)  # [G, d, ch, cw]
    center_valid = point_mask = None
    if padded:
        point_valid = region_validity(H, W, f, feats.device, feats.dtype,
                                       multiple=STRIDE)  # [R, 1, h, w]
        coverage = F.avg_pool2d(point_valid, STRIDE)  # [R, 1, ch, cw]
        center_valid = (coverage > 0).reshape(1, R, M)
        # pooled zero-padded sums / fraction of real points = mean over real points only
        scale = torch.where(coverage > 0, coverage.reciprocal(), torch.zeros_like(coverage))
        centers = (centers.view(B, R, c, M) * scale.view(1, R, 1, M)).view(G, c, M)
        value_centers = (value_centers.view(B, R, d, ch, cw) * scale.view(1, R, 1, ch, cw))
        point_mask = point_valid.reshape(1, R, N).expand(B, R, N).reshape(G * N)

    with torch.no_grad():
        points = x.permute(0, 2, 3, 1).reshape(G, N, c)
        assignment = _nearest_center(points, F.normalize(centers, dim=1), center_valid)
    flat = cluster_rows(assignment, M)
    counts = cluster_sizes(flat, point_mask, G * M).to(values.dtype)
    # Padded points hold zero values, so they add nothing to a sum.
    rows = v.permute(0, 2, 3, 1).reshape(G * N, d)
    sums = value_centers.reshape(G, d, M).transpose(1, 2).reshape(G * M, d).index_add(0, flat, rows)
    clusters = sums / (1 + counts).unsqueeze(1)  # [G * M, d]

    out = clusters.view(B, f, f, ch, cw, d).permute(0, 5, 1, 3, 2, 4)
    out = out.reshape(B, d, f * ch, f * cw)[:, :, :(H + 1) // 2, :(W + 1) // 2]
    if not return_assignment:
        return out
    assignment = assignment.view(B, f, f, h, w) + \
        (torch.arange(R, device=feats.device) * M).view(1, f, f, 1, 1)
    assignment = assignment.permute(0, 1, 3, 2, 4).reshape(B, 1, f * h, f * w)
    return out, assignment[:, :, :H, :W]


class FrozenConv1x1(nn.Module):
    """A 1x1 convolution whose ``weight`` and ``bias`` are buffers: saved to and loaded from
    checkpoints under the keys of an ``nn.Conv2d`` (``<name>.weight``, ``<name>.bias``), moved
    and cast with the model, never trained, and no input gradient flows through it."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        # nn.Conv2d's initialisation, as the reference's (and the same random draws)
        conv = nn.Conv2d(in_channels, out_channels, kernel_size=1)
        self.register_buffer('weight', conv.weight.detach().clone())
        self.register_buffer('bias', conv.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x.detach(), self.weight, self.bias)

    def extra_repr(self) -> str:
        return f'{self.weight.shape[1]}, {self.weight.shape[0]}, kernel_size=(1, 1), frozen'


class ClusterPool(RecordsAssignment, nn.Module):
    """FEC's downsampling: ``conv_skip(x) + norm2(cluster_pool(conv_f(x), conv_v(x)))``.

    Parameter names follow the official checkpoints (``conv_f``, ``conv_v``, ``conv_skip``,
    ``norm2``) so that their weights load unchanged.

    ``conv_f`` only feeds an argmax, so no gradient can ever reach it: the reference trains with
    DDP ``find_unused_parameters=True`` and its ``conv_f`` stays at its random initialisation
    (AdamW skips parameters without a gradient). Here it is a ``FrozenConv1x1`` whose weight and
    bias are buffers: the same training, but every parameter gets a gradient (DDP needs no
    unused-parameter search, timm's "every parameter has a gradient" holds), the optimizer does
    not track it, and the weights still load from and save to checkpoints under the official
    keys (``conv_f.weight``, ``conv_f.bias``). A straight-through term would instead train it,
    which the released models never did.
    """

    def __init__(self, in_channels: int, out_channels: int, folds: int = 1,
                 norm_cfg: Dict = dict(type='GN', num_groups=1)):
        super().__init__()
        if not isinstance(folds, int) or folds < 1:
            raise ValueError(f'folds must be a positive int, got {folds!r}')
        self.folds = folds
        self.conv_f = FrozenConv1x1(in_channels, out_channels)
        self.conv_v = nn.Conv2d(in_channels, out_channels, kernel_size=1)
        self.conv_skip = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=STRIDE,
                                   padding=1)
        self.norm2 = build_norm_layer(norm_cfg, out_channels)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.conv_f(x)
        pooled = self.run_assigning(cluster_pool, feats, self.conv_v(x), self.folds)
        return self.conv_skip(x) + self.norm2(pooled)

    def extra_repr(self) -> str:
        return f'folds={self.folds}'


def count_released_parameters(model: nn.Module) -> int:
    """Parameters as the official releases count them: the trained ones plus the weights that
    were parameters there but never trained (FEC's ``conv_f``, buffers here, so that every
    parameter of an mmcoc model gets a gradient)."""
    frozen = sum(b.numel() for m in model.modules() if isinstance(m, FrozenConv1x1)
                 for b in m.buffers(recurse=False))
    return sum(p.numel() for p in model.parameters()) + frozen
