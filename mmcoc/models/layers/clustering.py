"""The Context-Cluster token mixer ("Image as Set of Points", ICLR'23), shared by every backbone.

Per head and per region: centers are proposed by average pooling, every point is compared to every
center by cosine similarity, keeps only its most similar center, and the cluster feature

    g_m = (v_m + sum_{n in m} s_n * v_n) / (1 + sum_{n in m} s_n),
    s_n = sigmoid(beta + alpha * cos(point n, center m)),

is dispatched back to each member point as s_n * g_m (Eq. 1 of the paper). The argmax is taken
on the products before the sigmoid (``nearest_center``): the same center, without the rounding
that makes ties.

FEC ("Neural Clustering based Visual Representation Learning", CVPR'24) uses the same op with
``weighting='plain'``: its cluster feature is the plain mean of the center and its members,
``g_m = (v_m + sum_{n in m} v_n) / (1 + |m|)``, dispatched as ``s_n * g_m`` all the same.

The reference implementation forms ``[groups, centers, points, dim]`` products for both the
aggregation and the dispatch. Because every point belongs to exactly one cluster, both are
row scatters and gathers here (``index_add`` / ``index_select`` over ``[groups * points, dim]``),
and the only tensor of ``groups * centers * points`` elements, the similarity matrix needed for
the argmax, is not kept for backward.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import fused_clustering
from .assignment import RecordsAssignment
from .mlp import is_group_norm1, row_chunks
from .tracing import (
    exports_custom_ops,
    known_true,
    known_zero,
    records_autograd_function,
    traced_by_any,
    traced_by_torch,
)

NORMALIZERS = ('similarity', 'count')
WEIGHTINGS = ('similarity', 'plain')


def check_normalizer(normalizer: str, weighting: str = 'similarity'):
    if normalizer not in NORMALIZERS:
        raise ValueError(f'normalizer must be one of {NORMALIZERS}, got {normalizer!r}')
    if weighting not in WEIGHTINGS:
        raise ValueError(f'weighting must be one of {WEIGHTINGS}, got {weighting!r}')
    if weighting == 'plain' and normalizer != 'count':
        # a plain sum over members divided by 1 + sum(s) is no average of anything
        raise ValueError("weighting='plain' sums the members' values unweighted and needs "
                         "normalizer='count' (their mean with the center, as FEC); got "
                         f'normalizer={normalizer!r}')


def region_side(size: int, folds: int, multiple: int = 1) -> int:
    """The side of each of ``folds`` regions covering ``size`` points, padded up to a multiple
    of ``multiple``: ``multiple * ceil(size / (folds * multiple))``. Written as one product of a
    floor division so that a symbolic size (torch.compile, torch.export) gives expressions
    whose divisibility its solver can prove, where a remainder (``-size % folds``) leaves
    guards on them."""
    return multiple * ((size + folds * multiple - 1) // (folds * multiple))


def context_cluster(feats: torch.Tensor,
                    values: torch.Tensor,
                    alpha: torch.Tensor,
                    beta: torch.Tensor,
                    heads: int,
                    proposals: int,
                    folds: int,
                    normalizer: str = 'similarity',
                    return_assignment: bool = False,
                    weighting: str = 'similarity'):
    """Cluster the points of a feature map and dispatch the cluster features back.

    Args:
        feats: ``[B, heads * c, H, W]`` features the similarity is measured on.
        values: ``[B, heads * d, H, W]`` features that are aggregated.
        alpha, beta: learnable scale and shift of the cosine similarity (shape ``[1]``).
        heads: number of heads; channels are split into ``heads`` equal groups.
        proposals: centers per side within each region (``proposals ** 2`` centers).
        folds: regions per side (``folds ** 2`` regions clustered independently).
        normalizer: ``'similarity'`` divides the cluster sum by ``1 + sum(s)`` as Eq. (1) of the
            paper and the official code since 2023-05-31 (today's ImageNet checkpoints);
            ``'count'`` divides by ``1 + |cluster|`` as the official code of 2023-03 (its
            classification checkpoints and every released Mask R-CNN and Semantic FPN model)
            and FEC do.
        weighting: ``'similarity'`` sums the members' values weighted by their similarity
            (Context Clusters); ``'plain'`` sums them unweighted (FEC; needs ``'count'``).
        return_assignment: also return each point's center index, ``[B, heads, H, W]`` (long),
            numbered ``region * proposals**2 + center`` with regions in row-major order.

    Any ``H x W`` is accepted: a map that does not divide into ``folds`` regions is padded at the
    bottom/right; padded points are left out of the center pooling (a center whose pooling window
    holds no real point is never chosen), carry zero weight in the clusters and are cropped away,
    so they never join, pull or shift a cluster. A map that divides is not padded at all, unless
    its size is symbolic (``torch.compile`` with dynamic shapes, ``torch.export``) and not
    provably divisible: there the padded path (which equals the unpadded one on a map that
    divides) serves every height and width in one graph, where a branch on the size would put
    a guard on its divisibility.

    Returns:
        ``[B, heads * d, H, W]`` (and the assignment when asked for).
    """
    check_normalizer(normalizer, weighting)
    if exports_custom_ops() and not return_assignment:
        return torch.ops.mmcoc.context_cluster(feats, values, alpha, beta, heads, proposals,
                                               folds, normalizer, weighting)
    if feats.dim() != 4 or values.dim() != 4 or feats.shape[0] != values.shape[0] \
            or feats.shape[2:] != values.shape[2:]:
        raise ValueError('feats and values must be [B, C, H, W] maps of the same batch and size, '
                         f'got {tuple(feats.shape)} and {tuple(values.shape)}')
    if feats.shape[1] % heads or values.shape[1] % heads:
        raise ValueError(f'channels ({feats.shape[1]}, {values.shape[1]}) must divide into '
                         f'{heads} heads')
    B, _, H, W = feats.shape
    c, d = feats.shape[1] // heads, values.shape[1] // heads
    f = folds
    h, w = region_side(H, f), region_side(W, f)
    pad_h, pad_w = h * f - H, w * f - W
    # The maps as channels-last [B, H, W, C] views: free where they are stored channels-last
    # (the blocks keep them so), else the one copy below reads them strided.
    fh, vh = feats.permute(0, 2, 3, 1), values.permute(0, 2, 3, 1)
    if not known_zero(pad_h, pad_w):
        # Zero padding makes every pooled sum a sum over real points only.
        fh = F.pad(fh, (0, 0, 0, pad_w, 0, pad_h))
        vh = F.pad(vh, (0, 0, 0, pad_w, 0, pad_h))
    R = f * f
    # Heads and regions become groups, each a [points, channels] matrix: [B, f, h, f, w, E, c]
    # -> [B, E, f, f, h, w, c]. Channels-last rows serve the similarity product, the norms
    # and the row scatter/gather alike.
    x = fh.reshape(B, f, h, f, w, heads, c).permute(0, 5, 1, 3, 2, 4, 6).reshape(B * heads * R,
                                                                                h * w, c)
    v = vh.reshape(B, f, h, f, w, heads, d).permute(0, 5, 1, 3, 2, 4, 6).reshape(B * heads * R,
                                                                                h * w, d)
    return cluster_groups(x, v, alpha, beta, heads, proposals, folds, (H, W), normalizer,
                          return_assignment, weighting)


def cluster_groups(x: torch.Tensor,
                   v: torch.Tensor,
                   alpha: torch.Tensor,
                   beta: torch.Tensor,
                   heads: int,
                   proposals: int,
                   folds: int,
                   size,
                   normalizer: str = 'similarity',
                   return_assignment: bool = False,
                   weighting: str = 'similarity'):
    """``context_cluster`` of points already in the groups' layout: ``x`` ``[G, N, c]`` and
    ``v`` ``[G, N, d]``, ``G = B * heads * folds**2`` groups (``[B, heads, region]`` order, the
    regions row-major) of ``N = h * w`` points (each region row-major, zero where the ``size``
    ``(H, W)`` map was padded to ``folds`` regions of ``h x w``). Returns the ``[B, heads * d,
    H, W]`` map (and the assignment) as ``context_cluster``."""
    H, W = size
    f = folds
    h, w = region_side(H, f), region_side(W, f)
    padded = not known_zero(h * f - H, w * f - W)
    R = f * f
    G, N, M = x.shape[0], h * w, proposals * proposals
    B, d = G // (heads * R), v.shape[2]
    device = x.device

    # Centers by adaptive average pooling of each region, as products with its averaging
    # matrix: [G, M, c] and [G, M, d] straight from the channels-last points, and a product
    # again in backward.
    windows = window_averages(h, w, proposals, device, x.dtype)  # [M, N]
    scale = center_valid = None
    if padded:
        point_valid = region_validity(H, W, f, device, x.dtype)  # [R, 1, h, w]
        coverage = torch.matmul(windows, point_valid.reshape(R, N, 1)).reshape(1, R, M, 1)
        center_valid = coverage > 0
        # pooled zero-padded sums / fraction of real points = mean over real points only
        scale = torch.where(center_valid, coverage.reciprocal(), torch.zeros_like(coverage))
        center_valid = center_valid.reshape(1, R, M)

    choosable = center_valid  # [1, R or 1, M]
    if not known_true(h >= proposals, w >= proposals):
        distinct = distinct_windows(h, w, proposals, device).view(1, 1, M)
        choosable = distinct if choosable is None else choosable & distinct
    fused = fused_clustering.applies(x)
    cos, assignment = cosines_to_centers(x, windows, scale, alpha, choosable, fused)  # [G, N]
    sim = torch.sigmoid(beta + alpha * cos)
    if padded:
        point_mask = point_valid.reshape(1, R, N)
        sim = (sim.view(-1, R, N) * point_mask).view(G, N)

    if fused:
        out = fused_clustering.aggregate_dispatch(
            v, sim.to(v.dtype), pool_centers(windows, v, scale), assignment,
            point_valid.reshape(R, N) if padded and normalizer == 'count' else None,
            weighted=weighting == 'similarity', by_similarity=normalizer == 'similarity')
        return _to_map(out, B, heads, f, h, w, d, H, W, padded, assignment, M,
                       return_assignment)
    flat = cluster_rows(assignment, M)
    if normalizer == 'similarity':
        counts = None
    else:
        members = point_mask.expand(B * heads, R, N).reshape(-1) if padded else None
        counts = cluster_sizes(flat, members, G * M).to(v.dtype)
    # one dtype for the scatter (autocast may leave the similarity wider than the values)
    rows, s = v.reshape(G * N, d), sim.reshape(G * N).to(v.dtype)
    weighted = weighting == 'similarity'
    # dispatched straight into the channels-last map's order: no copy of the output (nor of
    # its gradient) between the groups' layout and the map's
    order = map_rows(B, heads, f, h, w, device)
    if not records_autograd_function(rows, s):
        value_centers = pool_centers(windows, v, scale).reshape(G * M, d)
        clusters = _aggregate_dispatch(rows, s, value_centers, flat, counts, weighted)[0]
        out = clusters.index_select(0, flat[order]) * s[order].unsqueeze(1)
    else:
        out = AggregateDispatch.apply(rows, s, None, flat, counts, weighted, windows, scale,
                                      order)
    return _to_map(out, B, heads, f, h, w, d, H, W, padded, assignment, M, return_assignment,
                   in_map_order=True)


def region_view(points: torch.Tensor, folds: int) -> torch.Tensor:
    """``[B, H, W, C]`` points (``H`` and ``W`` divisible by ``folds``) as ``[B, f, f, h, w,
    C]``: region by region, row-major, each region's points row-major (a view where the points
    are stored densely)."""
    B, H, W, C = points.shape
    f = folds
    return points.reshape(B, f, H // f, f, W // f, C).transpose(2, 3)


def map_points(rows: torch.Tensor, H: int, W: int, folds: int) -> torch.Tensor:
    """``[B, H * W, C]`` rows in ``region_view``'s order as ``[B, H, W, C]`` points."""
    B, _, C = rows.shape
    f = folds
    return rows.view(B, f, f, H // f, W // f, C).transpose(2, 3).reshape(B, H, W, C)


# Rows per chunk of the grouped projection: a chunk of the input (rows x channels) stays in
# the cache while every head's product reads it.
PROJECTION_CHUNK_ELEMENTS = 2**18


# Points an image needs for GroupedProjection: below, its per-image loops cost more than the
# copies they save.
GROUPED_PROJECTION_MIN_POINTS = 256


class GroupedProjection(torch.autograd.Function):
    """The mixer's 1x1 projections ``f`` and ``v`` of ``[B, H, W, C]`` points, after a
    GroupNorm of one group where its weight and bias are given, written straight into
    ``cluster_groups``' layout: ``[B * heads * R, N, c]`` per projection. The points are
    returned as they are too, so that a residual that adds them passes its gradient through
    here.

    A norm, a projection of the map and then the groups' layout would write the normed map,
    every projected value twice (the ``[points, heads * c]`` product, then its copy into
    ``[B, heads, region]`` groups); and in backward copy each gradient back, concatenate f's
    and v's for one product, take the norm's gradient and add the residual's: six point-sized
    buffers beyond the outputs. Here the normed points are written once, in the groups' row
    order; both directions of the products run on chunks of rows in one cache-sized buffer
    (forward, one product of the chunk with both weights, its columns then copied into the
    heads' groups; backward, the heads' gradients of the chunk copied side by side for one
    product with both weights); the norm's gradient and the residual's are written into one
    tensor, slab by slab of regions."""

    @staticmethod
    def forward(ctx, points, norm_weight, norm_bias, eps, f_weight, f_bias, v_weight, v_bias,
                heads, folds):
        B, H, W, C = points.shape
        regions = region_view(points, folds)
        mean = rstd = None
        if norm_weight is None:
            rows = regions.reshape(B, H * W, C)
        else:
            var, mean = torch.var_mean(points.reshape(B, -1), dim=1, correction=0)
            rstd = (var + eps).rsqrt()
            rows = points.new_empty(B, H * W, C)
            for b in range(B):
                factor = rstd[b] * norm_weight
                torch.addcmul(norm_bias - mean[b] * factor, regions[b], factor,
                              out=rows[b].view(regions.shape[1:]))
        weight, bias = torch.cat([f_weight, v_weight]), torch.cat([f_bias, v_bias])
        widths = f_weight.shape[0] // heads, v_weight.shape[0] // heads
        outs = [rows.new_empty(B, heads, H * W, c) for c in widths]
        chunks = row_chunks(H * W, weight.shape[0], PROJECTION_CHUNK_ELEMENTS)
        buffer = rows.new_empty(chunks[0][1], weight.shape[0])
        for b in range(B):
            for start, end in chunks:
                product = torch.addmm(bias, rows[b, start:end], weight.t(),
                                      out=buffer[:end - start])
                for out, columns in zip(outs, product.split(heads * widths[0], dim=1)):
                    out[b, :, start:end].copy_(columns.unflatten(1, (heads, -1)).transpose(0, 1))
        ctx.save_for_backward(rows, weight, points, norm_weight, mean, rstd)
        ctx.shape = H, W, heads, folds, widths
        return tuple(out.view(B * heads * folds * folds, -1, out.shape[3])
                     for out in outs) + (points,)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_f, grad_v, grad_points):
        rows, weight, points, norm_weight, mean, rstd = ctx.saved_tensors
        H, W, heads, folds, widths = ctx.shape
        B, N, C = rows.shape
        grads = [torch.zeros(B, heads, N, c, dtype=rows.dtype, device=rows.device)
                 if grad is None else grad.reshape(B, heads, N, c)
                 for grad, c in zip((grad_f, grad_v), widths)]
        chunks = row_chunks(N, weight.shape[0], PROJECTION_CHUNK_ELEMENTS)
        buffer = rows.new_empty(chunks[0][1], weight.shape[0])
        grad_rows = torch.empty_like(rows) if any(ctx.needs_input_grad[:3]) else None
        grad_weight = torch.zeros_like(weight)
        grad_bias = weight.new_zeros(weight.shape[0])
        for b in range(B):
            for start, end in chunks:
                block = buffer[:end - start]
                for grad, columns in zip(grads, block.split(heads * widths[0], dim=1)):
                    columns.unflatten(1, (heads, -1)).transpose(0, 1).copy_(
                        grad[b, :, start:end])
                grad_weight.addmm_(block.t(), rows[b, start:end])
                grad_bias += block.sum(0)
                if grad_rows is not None:
                    torch.mm(block, weight, out=grad_rows[b, start:end])
        grad_input = grad_norm_weight = grad_norm_bias = None
        if grad_rows is not None and norm_weight is None:
            grad_input = map_points(grad_rows, H, W, folds)
            if grad_points is not None:
                grad_input += grad_points
        elif grad_rows is not None:
            grad_input, grad_norm_weight, grad_norm_bias = _group_norm_backward(
                grad_rows, points, mean, rstd, norm_weight, folds, grad_points)
        elif grad_points is not None:
            grad_input = grad_points
        f_rows = heads * widths[0]
        return (grad_input, grad_norm_weight, grad_norm_bias, None, grad_weight[:f_rows],
                grad_bias[:f_rows], grad_weight[f_rows:], grad_bias[f_rows:], None, None)


def _group_norm_backward(grad_rows, points, mean, rstd, gamma, folds, grad_points=None):
    """The gradient of GroupNorm(1) (``mean``, ``rstd`` ``[B]``, weight ``gamma``) at
    ``points`` ``[B, H, W, C]`` from ``grad_rows`` ``[B, N, C]`` in ``region_view``'s order,
    plus ``grad_points`` where given, in one ``[B, H, W, C]`` tensor; and the norm's weight
    and bias gradients. ``grad = rstd * (g - mean(g) - xhat * mean(g * xhat))`` with ``g =
    gamma * grad_rows`` and ``xhat = (x - mean) * rstd``, written ``A * grad_rows + B_ * x +
    K`` slab by slab (a row of regions), the two means from per-channel sums."""
    B, H, W, C = points.shape
    x = region_view(points, folds)
    rows = grad_rows.view(x.shape)
    # sum(grad_rows * xhat) per channel = rstd * (sum(grad_rows * x) - mean * sum(grad_rows))
    sums = rows.sum((1, 2, 3, 4))  # [B, C]
    products = points.new_zeros(B, C)
    slab = points.new_empty(x.shape[2:])
    for b in range(B):
        for i in range(folds):
            products[b] += torch.mul(rows[b, i], x[b, i], out=slab).sum((0, 1, 2))
    dots = rstd[:, None] * (products - mean[:, None] * sums)
    n = H * W * C
    mean_g, mean_gx = (sums * gamma).sum(1) / n, (dots * gamma).sum(1) / n
    scale = rstd[:, None] * gamma  # [B, C]
    slope = -rstd * rstd * mean_gx  # [B]
    shift = rstd * (rstd * mean_gx * mean - mean_g)
    grad = torch.empty_like(points)
    out = region_view(grad, folds)
    through = None if grad_points is None else region_view(grad_points, folds)
    for b in range(B):
        for i in range(folds):
            part = torch.mul(x[b, i], slope[b], out=out[b, i])
            part.addcmul_(rows[b, i], scale[b]).add_(shift[b])
            if through is not None:
                part.add_(through[b, i])
    return grad, dots.sum(0), sums.sum(0)


def map_rows(B, heads, f, h, w, device) -> torch.Tensor:
    """``[B * f * h * f * w * heads]``: the group row (``[B, heads, f, f, h, w]`` order) of
    each head of each cell of the channels-last map (``[B, f, h, f, w, heads]`` order)."""
    rows = torch.arange(B * heads * f * f * h * w, device=device)
    return rows.view(B, heads, f, f, h, w).permute(0, 2, 4, 3, 5, 1).reshape(-1)


def pool_centers(windows: torch.Tensor, points: torch.Tensor,
                 scale: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``[G, M, c]`` pooled centers of the groups ``points`` ``[G, N, c]``: the averaging
    matrix ``windows`` ``[M, N]`` times each group, times ``scale`` ``[1, R, M, 1]`` (the
    padded op's correction per region, group ``g`` in region ``g % R``) where given."""
    return _scaled_by_region(torch.matmul(windows, points), scale)


def _scaled_by_region(centers: torch.Tensor, scale: Optional[torch.Tensor]) -> torch.Tensor:
    """``centers`` ``[G, M, c]`` times ``scale`` ``[1, R, M, 1]`` (group ``g`` in region
    ``g % R``), or as they are where ``scale`` is None."""
    if scale is None:
        return centers
    G, M, c = centers.shape
    return (centers.view(-1, scale.shape[1], M, c) * scale).view(G, M, c)


def _add_pooling_gradient(grad_points: torch.Tensor, windows: torch.Tensor,
                          grad_centers: torch.Tensor, scale: Optional[torch.Tensor]):
    """``grad_points`` ``[G, N, c]`` += the points' gradient through ``pool_centers`` of
    ``grad_centers`` ``[G, M, c]``, in place: one batched product into the buffer it is added
    to, where autograd would write a fresh point-sized tensor and add it."""
    G, N, _ = grad_points.shape
    return grad_points.baddbmm_(windows.t().to(grad_points.dtype).expand(G, N, windows.shape[0]),
                                _scaled_by_region(grad_centers, scale).to(grad_points.dtype))


def _to_map(out, B, heads, f, h, w, d, H, W, padded, assignment, M, return_assignment,
            in_map_order=False):
    """The groups' points ``[G, N, d]`` (or ``[G * N, d]``; ``in_map_order``: rows already in
    ``map_rows`` order) back as the ``[B, heads * d, H, W]`` map, and the assignment as
    ``context_cluster`` returns it where asked for."""
    # [B, E, f, f, h, w, d] -> [B, f, h, f, w, E, d]: a channels-last map, the layout that the
    # following 1x1 projection and the block's point MLP run fastest on.
    if not in_map_order:
        out = out.view(B, heads, f, f, h, w, d).permute(0, 2, 4, 3, 5, 1, 6)
    out = out.reshape(B, h * f, w * f, heads * d).permute(0, 3, 1, 2)
    if padded:
        out = out[:, :, :H, :W]
    if not return_assignment:
        return out
    R = f * f
    assignment = assignment.view(B, heads, R, h * w).view(B, heads, f, f, h, w)
    assignment = assignment + (torch.arange(R, device=out.device) * M).view(1, 1, f, f, 1, 1)
    assignment = assignment.permute(0, 1, 2, 4, 3, 5).reshape(B, heads, h * f, w * f)
    return out, assignment[:, :, :H, :W]


def nearest_center(dots: torch.Tensor, alpha: torch.Tensor,
                   center_valid: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``[G, N]`` index of each point's most similar center from the products ``dots``
    ``[G, N, M]`` of the points with the normalised centers; ``center_valid`` ``[1, R, 1, M]``
    (group ``g`` in region ``g % R``; ``R`` may be 1) rules centers out. ``dots`` is never
    written: the ranking is a copy (``sign(alpha) * dots``), except eagerly (no tracer) on the
    CPU with ``alpha > 0`` and no center ruled out, where ``dots`` is ranked as it is.

    ``sigmoid(beta + alpha * dots / |x|)`` is, per point, a monotone function of ``dots``:
    increasing for ``alpha > 0``, decreasing for ``alpha < 0``, constant for ``alpha = 0``. So its
    argmax is the argmax of ``sign(alpha) * dots`` (all ties, hence the first center, at
    ``alpha = 0``, as the sigmoid's). Taken there, the argmax sees no rounding of the division,
    the affine map or the sigmoid: float32's sigmoid near 0.6 has a step of 6e-8 and merges
    products a few ulps apart into ties or near ties its last bit decides (up to 39 decisions
    within 16 ulps per layer of FEC-small at 491x549, 4 with the products), and a kernel that
    rounds the sigmoid differently (onnxruntime's, a GPU's) breaks each its own way. It is also
    one pass over the ``[G, N, M]`` products where the sigmoid's ranking took four."""
    ranked = dots.detach()
    # alpha's sign read on the CPU only (on a GPU, a synchronisation per block) and never
    # while a tracer records: a traced graph would keep the branch of the traced alpha
    if not (center_valid is None and ranked.device.type == 'cpu' and not traced_by_any()
            and bool(alpha.detach() > 0)):
        ranked = ranked * alpha.detach().sign()
    return argmax_of_valid(ranked, center_valid)


def point_norms(x: torch.Tensor) -> torch.Tensor:
    """``[G, N]`` norms of the points ``x`` ``[G, N, c]``, ``max(norm, 1e-12)`` as
    ``F.normalize``; in float32 at least (half precision's squares would overflow)."""
    wide = torch.promote_types(x.dtype, torch.float32)
    return torch.linalg.vector_norm(x, dim=2, dtype=wide).clamp_min(1e-12)


def _chosen_cosines(x, centers, assignment, dots=None):
    """``[G, N]`` cosine of each point with its assigned (normalised) center, and the points'
    norms: the chosen product is picked from the products ``dots`` ``[G, N, M]`` where given,
    else formed from the chosen centers. The points are not normalised, only their one chosen
    product each."""
    if dots is not None:
        products = dots.gather(2, assignment.unsqueeze(2)).squeeze(2)
    else:
        products = (x * _chosen_centers(centers, assignment)).sum(2)
    norms = point_norms(x)
    return products / norms, norms


def _chosen_centers(centers, assignment, out=None):
    """``[G, N, c]``: each point's center; a tensor of its own (``out`` where given), not a
    view."""
    return torch.gather(centers, 1, assignment.unsqueeze(2).expand(-1, -1, centers.shape[2]),
                        out=out)


def _cosines_to_centers(x, windows, scale, alpha, choosable, fused):
    """``cosines_to_centers``' arithmetic: the cosines and the assignment, and the pooled
    centers, normalised centers and point norms that ``CentersCosines``' backward reads."""
    pooled = pool_centers(windows, x, scale)
    centers = F.normalize(pooled, dim=2)  # [G, M, c]
    M = centers.shape[1]
    if fused:  # the products and their argmax in registers, block by block
        dots = None
        assignment = fused_clustering.assign(
            x, centers, alpha, None if choosable is None else choosable.reshape(-1, M))
    else:
        # Points by centers, [G, N, M]: each point's centers lie contiguous for the argmax.
        dots = torch.bmm(x, centers.transpose(1, 2))  # not kept for backward
        with torch.no_grad():
            assignment = nearest_center(
                dots, alpha, None if choosable is None else choosable.unsqueeze(2))
    cos, norms = _chosen_cosines(x, centers, assignment, dots)
    return cos, assignment, pooled, centers, norms


class CentersCosines(torch.autograd.Function):
    """``cosines_to_centers`` whose backward reads the points, the centers and the assignment.

    Autograd would keep the ``[G, N, M]`` products for ``gather``'s backward (25 or 49 values a
    point, the op's largest tensor at detection sizes) for one value a point, square the
    points into a ``[G, N, c]`` tensor for their norms, and give the points three point-sized
    gradients to add (the cosine's, the norm's, the pooling's). Here ``cos_n = x_n . c_k /
    |x_n|`` gives the point ``(c_k - cos_n x_n / |x_n|) / |x_n|``, one tensor, into which the
    pooling's gradient is added in place; the centers get each point over its norm
    (``index_add``, as the aggregation's), through their normalisation (small tensors)."""

    @staticmethod
    def forward(ctx, x, windows, scale, alpha, choosable, fused):
        cos, assignment, pooled, centers, norms = _cosines_to_centers(
            x, windows, scale, alpha, choosable, fused)
        ctx.mark_non_differentiable(assignment)
        ctx.save_for_backward(x, windows, scale, pooled, centers, assignment, norms, cos)
        return cos, assignment

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad, _):
        x, windows, scale, pooled, centers, assignment, norms, cos = ctx.saved_tensors
        G, N, c = x.shape
        M = centers.shape[1]
        factor = (grad / norms).unsqueeze(2)  # [G, N, 1]
        dtype = torch.promote_types(centers.dtype, factor.dtype)
        # one [G, N, c] buffer: first the points' terms of the centers' gradient, then the
        # points' gradient
        buffer = torch.mul(x, factor, out=x.new_empty(G, N, c, dtype=dtype))
        grad_centers = torch.zeros(G * M, c, dtype=dtype, device=x.device)
        grad_centers.index_add_(0, cluster_rows(assignment, M), buffer.view(G * N, c))
        with torch.enable_grad():  # F.normalize's backward, on [G, M, c]
            raw = pooled.detach().requires_grad_()
            grad_pooled, = torch.autograd.grad(
                F.normalize(raw, dim=2), raw, grad_centers.to(raw.dtype).view(G, M, c))
        grad_x = _chosen_centers(centers.to(dtype), assignment, out=buffer).mul_(factor)
        grad_x = grad_x.addcmul_(x, factor * (-cos / norms).unsqueeze(2)).to(x.dtype)
        return _add_pooling_gradient(grad_x, windows, grad_pooled, scale), None, None, None, \
            None, None


def cosines_to_centers(x: torch.Tensor, windows: torch.Tensor, scale: Optional[torch.Tensor],
                       alpha: torch.Tensor, choosable: Optional[torch.Tensor], fused: bool):
    """``[G, N]`` cosine of each point of ``x`` ``[G, N, c]`` with its most similar center and
    that center, ``[G, N]`` (long): the centers pooled by ``windows`` (``pool_centers``),
    ranked by ``nearest_center`` (or the fused kernel) among those ``choosable`` ``[1, R or 1,
    M]`` allows. The points are not normalised, only their one chosen product each; for
    training without keeping the ``[G, N, M]`` products (``CentersCosines``)."""
    if records_autograd_function(x):
        return CentersCosines.apply(x, windows, scale, alpha, choosable, fused)
    return _cosines_to_centers(x, windows, scale, alpha, choosable, fused)[:2]


def argmax_of_valid(ranked: torch.Tensor, center_valid: Optional[torch.Tensor] = None
                    ) -> torch.Tensor:
    """``ranked.argmax(-1)`` over the centers that ``center_valid`` ``[1, R, 1, M]`` allows
    (group ``g`` in region ``g % R``), the first of equal maxima as torch.max; ``ranked``
    ``[G, N, M]`` is overwritten where a center is ruled out."""
    if center_valid is not None:
        # below any value, so an invalid center is never the maximum of a point
        ranked.view(-1, center_valid.shape[1], *ranked.shape[1:]).masked_fill_(
            ~center_valid, torch.finfo(ranked.dtype).min)
    return ranked.argmax(dim=-1)


def _window_spans(n, proposals: int, device):
    """Start and end (exclusive) of adaptive pooling's ``proposals`` windows over ``n``."""
    i = torch.arange(proposals, device=device)
    return (i * n) // proposals, ((i + 1) * n + proposals - 1) // proposals


def distinct_windows(h, w, proposals: int, device) -> torch.Tensor:
    """``[proposals**2]`` bool: False for a window of :func:`window_averages` identical to an
    earlier one (row-major), which happens where a region has fewer rows or columns than
    ``proposals``. An identical window pools an identical center, and a point equally similar
    to both takes the first, as torch.max does; but a product kernel may round the two
    columns of equal centers 1 ulp apart (CPU GEMMs do), so the copies are ruled out instead
    of left to the rounding."""
    def first_of_equal(n):  # [proposals]: window i's span differs from window i - 1's
        start, end = _window_spans(n, proposals, device)
        first = torch.ones(1, dtype=torch.bool, device=device)
        return torch.cat([first, (start[1:] != start[:-1]) | (end[1:] != end[:-1])])

    return (first_of_equal(h)[:, None] & first_of_equal(w)[None, :]).reshape(-1)


def window_averages(h, w, proposals: int, device, dtype) -> torch.Tensor:
    """``[proposals**2, h * w]``: row ``m`` averages the points of center ``m``'s window of
    ``F.adaptive_avg_pool2d`` over an ``h x w`` region (rows ``[floor(i h / P), ceil((i + 1) h
    / P))``, columns likewise), so that this matrix times a region's points is its pooled
    centers. Built from the sizes (which may be symbolic while torch.compile or torch.export
    traces: an exported adaptive pool fixes its windows at the traced size)."""
    def averaging(n):  # [proposals, n]
        start, end = _window_spans(n, proposals, device)
        j = torch.arange(n, device=device)
        inside = (j >= start[:, None]) & (j < end[:, None])
        return inside.to(dtype) / (end - start).to(dtype)[:, None]

    rows, cols = averaging(h), averaging(w)
    return (rows[:, None, :, None] * cols[None, :, None, :]).reshape(proposals * proposals, -1)


def cluster_rows(assignment: torch.Tensor, M: int) -> torch.Tensor:
    """Each point's cluster as a row of the ``[groups * M, ...]`` cluster tensors: the
    assignment ``[G, N]`` (a center of its group) offset by its group, flattened."""
    G = assignment.shape[0]
    return (assignment + torch.arange(G, device=assignment.device).unsqueeze(1) * M).reshape(-1)


def cluster_sizes(flat: torch.Tensor, weights: Optional[torch.Tensor], size: int) -> torch.Tensor:
    """``torch.bincount(flat, weights, minlength=size)``; while exporting, a float32
    ``index_add`` (the same integer counts) whose output size does not depend on the data."""
    if not traced_by_torch():
        return torch.bincount(flat, weights=weights, minlength=size)
    ones = torch.ones_like(flat, dtype=torch.float32) if weights is None else weights.float()
    return ones.new_zeros(size).index_add(0, flat, ones)


def _aggregate_dispatch(v, s, value_centers, flat, counts, weighted: bool = True):
    """``AggregateDispatch``'s forward up to the dispatch: the clusters, their denominators and
    the summed rows (``v * s`` when ``weighted``, a buffer of its own, else ``v``)."""
    summed = v * s.unsqueeze(1) if weighted else v
    numer = value_centers.index_add(0, flat, summed)
    if counts is None:
        denom = 1 + s.new_zeros(value_centers.shape[0]).index_add(0, flat, s)
    else:
        denom = 1 + counts
    clusters = numer / denom.unsqueeze(1)
    return clusters, denom, summed


def _row_dots(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(a * b).sum(1)`` of two ``[rows, d]`` tensors without their ``[rows, d]`` product
    (a batched product of rows: half the time, no point-sized buffer)."""
    return torch.bmm(a.unsqueeze(1), b.unsqueeze(2)).view(-1)


class AggregateDispatch(torch.autograd.Function):
    """Cluster features from member points, dispatched back: ``out_n = s_n * g_{k(n)}``.

    ``g_k = (vc_k + sum_{n in k} s_n v_n) / D_k`` with ``D_k = 1 + sum_{n in k} s_n``, or
    ``1 + counts_k`` when ``counts`` is given; without ``weighted`` the members' values enter
    the sum unweighted (``sum_{n in k} v_n``). The value centers ``vc`` are given, or with
    ``value_centers=None`` pooled from ``v`` by ``windows`` and ``scale`` (``pool_centers``),
    their gradient then added to ``v``'s in place. With ``order`` the output's rows are
    ``out[p] = s_{order[p]} g_{k(order[p])}`` (``map_rows``: the map's layout).

    Written out (rather than left to autograd) so that backward keeps only ``v``, ``s`` and the
    small per-cluster tensors instead of the ``[points, dim]`` intermediates, the largest
    buffers of the op at detection sizes. Forward and backward each fill one ``[points, dim]``
    buffer in turn with what the next step reads (a fresh buffer of that size costs a pass of
    page faults on top of its writes).
    """

    @staticmethod
    def forward(ctx, v, s, value_centers, flat, counts, weighted=True, windows=None,
                scale=None, order=None):
        ctx.pooled = value_centers is None
        if ctx.pooled:
            N = windows.shape[1]
            value_centers = pool_centers(windows, v.view(-1, N, v.shape[1]), scale)
            value_centers = value_centers.reshape(-1, v.shape[1])
        clusters, denom, summed = _aggregate_dispatch(v, s, value_centers, flat, counts,
                                                      weighted)
        ctx.save_for_backward(v, s, flat, clusters, denom, windows, scale, order)
        ctx.by_similarity = counts is None
        ctx.weighted = weighted
        out = summed if weighted else None  # v itself where not weighted: not to be written
        out_flat, out_s = (flat, s) if order is None else (flat[order], s[order])
        return torch.index_select(clusters, 0, out_flat, out=out).mul_(out_s.unsqueeze(1))

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        v, s, flat, clusters, denom, windows, scale, order = ctx.saved_tensors
        grad = grad.to(v.dtype).contiguous()  # rows below is written through out=
        out_flat, out_s = (flat, s) if order is None else (flat[order], s[order])
        rows = grad * out_s.unsqueeze(1)
        grad_clusters = torch.zeros_like(clusters).index_add_(0, out_flat, rows)
        grad_s = _row_dots(torch.index_select(clusters, 0, out_flat, out=rows), grad)
        if order is not None:
            grad_s = torch.empty_like(grad_s).index_copy_(0, order, grad_s)
        s_col = s.unsqueeze(1)
        grad_numer = grad_clusters / denom.unsqueeze(1)  # = grad of value_centers
        spread = torch.index_select(grad_numer, 0, flat, out=rows)
        if ctx.weighted:
            grad_s += _row_dots(spread, v)
            spread.mul_(s_col)
        if ctx.by_similarity:
            grad_denom = -(grad_clusters * clusters).sum(1) / denom
            grad_s += grad_denom.index_select(0, flat)
        if not ctx.pooled:
            return spread, grad_s, grad_numer, None, None, None, None, None, None
        N, d = windows.shape[1], v.shape[1]
        _add_pooling_gradient(spread.view(-1, N, d), windows,
                              grad_numer.view(-1, windows.shape[0], d), scale)
        return spread, grad_s, None, None, None, None, None, None, None


def region_validity(H: int, W: int, folds: int, device, dtype, multiple: int = 1) -> torch.Tensor:
    """``[folds**2, 1, h, w]``: 1 where a region's cell holds a real point of the ``H x W`` map,
    padded so that each region's side divides by ``multiple``."""
    f = folds
    h, w = region_side(H, f, multiple), region_side(W, f, multiple)
    size_h, size_w = f * h, f * w
    # comparisons rather than a slice assignment: one expression of the (maybe symbolic) sizes
    rows = torch.arange(size_h, device=device) < H
    cols = torch.arange(size_w, device=device) < W
    valid = (rows[:, None] & cols[None, :]).to(dtype)
    return valid.view(f, h, f, w).permute(0, 2, 1, 3).reshape(f * f, 1, h, w)


class ContextClusterMixer(RecordsAssignment, nn.Module):
    """Multi-head Context-Cluster token mixer: ``f``/``v`` projections, clustering, ``proj``.

    Parameter names follow the official checkpoints (``f``, ``v``, ``proj``, ``sim_alpha``,
    ``sim_beta``) so that their weights load unchanged.
    """

    def __init__(self,
                 dim: int,
                 out_dim: Optional[int] = None,
                 heads: int = 4,
                 head_dim: int = 24,
                 proposals: int = 2,
                 folds: int = 1,
                 normalizer: str = 'similarity',
                 weighting: str = 'similarity'):
        super().__init__()
        check_normalizer(normalizer, weighting)
        for name, value in (('heads', heads), ('head_dim', head_dim), ('proposals', proposals),
                            ('folds', folds)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'{name} must be a positive int, got {value!r}')
        self.heads, self.head_dim = heads, head_dim
        self.proposals, self.folds, self.normalizer = proposals, folds, normalizer
        self.weighting = weighting
        self.f = nn.Conv2d(dim, heads * head_dim, kernel_size=1)
        self.v = nn.Conv2d(dim, heads * head_dim, kernel_size=1)
        self.proj = nn.Conv2d(heads * head_dim, out_dim or dim, kernel_size=1)
        self.sim_alpha = nn.Parameter(torch.ones(1))
        self.sim_beta = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, norm: Optional[nn.Module] = None,
                scale: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The mixed map of ``x``, or of ``norm(x)`` where a norm is given; with ``scale``
        (``[C]``, a layer scale) ``x + scale * mixed``: a block's pre-norm residual half, whose
        norm, layer scale and residual run inside the projections where the mixer runs
        eagerly (``GroupedProjection``; proj's product adds the residual)."""
        # Traced, the 1x1 convolutions take a cropped (strided) map as it is, where a product's
        # check of its layout would guard on the size. Eagerly they are products on the
        # channels-last points (free views of a channels-last map): f and v written straight
        # into the op's groups where the map divides into its regions, else in one product;
        # proj on the op's channels-last output.
        if traced_by_torch():
            normed = x if norm is None else norm(x)
            out = self.proj(self._cluster(context_cluster, self.f(normed), self.v(normed)))
            return out if scale is None else torch.addcmul(x, scale[:, None, None], out)
        residual = x
        if self._projects_to_groups(x) and (norm is None or is_group_norm1(norm)):
            feats, values, residual = GroupedProjection.apply(
                x.permute(0, 2, 3, 1), *((None, None, None) if norm is None else
                                         (norm.weight, norm.bias, norm.eps)),
                self.f.weight.flatten(1), self.f.bias, self.v.weight.flatten(1), self.v.bias,
                self.heads, self.folds)
            residual = residual.permute(0, 3, 1, 2)
            out = self._cluster(cluster_groups, feats, values, size=x.shape[2:])
        else:
            normed = x if norm is None else norm(x)
            weight = torch.cat([self.f.weight, self.v.weight]).flatten(1)
            fv = F.linear(normed.permute(0, 2, 3, 1), weight,
                          torch.cat([self.f.bias, self.v.bias])).permute(0, 3, 1, 2)
            # (a slice's backward would zero-fill fv)
            feats, values = fv.split(self.heads * self.head_dim, dim=1)
            out = self._cluster(context_cluster, feats, values)
        points = out.permute(0, 2, 3, 1)
        weight, bias = self.proj.weight.flatten(1), self.proj.bias
        if scale is not None and not traced_by_any() \
                and not torch.is_autocast_enabled(x.device.type):
            # the layer scale folded into proj's weight and bias, the residual into the
            # product: neither the mixed map nor its scaled gradient is a tensor of its own
            # (autocast would run the product, hence the residual stream, in low precision)
            B, C, H, W = residual.shape
            rows = torch.addmm(residual.permute(0, 2, 3, 1).reshape(-1, C),
                               points.reshape(-1, points.shape[3]), (weight * scale[:, None]).t())
            return rows.add_(bias * scale).view(B, H, W, C).permute(0, 3, 1, 2)
        out = F.linear(points, weight, bias).permute(0, 3, 1, 2)
        return out if scale is None else torch.addcmul(residual, scale[:, None, None], out)

    def _cluster(self, op, feats, values, **size):
        """``op`` (``context_cluster`` on maps, ``cluster_groups`` on groups of the map of
        ``size``) with this mixer's settings, its assignment kept where asked for."""
        return self.run_assigning(op, feats, values, self.sim_alpha, self.sim_beta, self.heads,
                                  self.proposals, self.folds, normalizer=self.normalizer,
                                  weighting=self.weighting, **size)

    def _projects_to_groups(self, x: torch.Tensor) -> bool:
        """Whether ``GroupedProjection`` serves ``x``: eagerly (a tracer records the plain
        products), on the CPU (its chunks are for a CPU's caches; on a GPU they would be
        launches), in float32 or float64 (its norm keeps its statistics in the input's
        dtype), without autocast (which casts the plain products), and on a ``[B, C, H, W]``
        map of at least ``GROUPED_PROJECTION_MIN_POINTS`` points an image (its loops run per
        image) that divides into the regions (the groups of a padded map hold zeros, not the
        projection of zeros)."""
        return (not traced_by_any() and x.dim() == 4 and x.device.type == 'cpu'
                and x.dtype in (torch.float32, torch.float64)
                and not torch.is_autocast_enabled(x.device.type)
                and x.shape[2] * x.shape[3] >= GROUPED_PROJECTION_MIN_POINTS
                and x.shape[2] % self.folds == 0 and x.shape[3] % self.folds == 0)

    def extra_repr(self) -> str:
        return (f'heads={self.heads}, head_dim={self.head_dim}, proposals={self.proposals}, '
                f'folds={self.folds}, normalizer={self.normalizer!r}, '
                f'weighting={self.weighting!r}')
