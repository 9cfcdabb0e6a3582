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
from .tracing import (
    exports_custom_ops,
    known_true,
    known_zero,
    records_autograd_function,
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
    padded = not known_zero(pad_h, pad_w)
    # The maps as channels-last [B, H, W, C] views: free where they are stored channels-last
    # (the blocks keep them so), else the one copy below reads them strided.
    fh, vh = feats.permute(0, 2, 3, 1), values.permute(0, 2, 3, 1)
    if padded:
        # Zero padding makes every pooled sum a sum over real points only.
        fh = F.pad(fh, (0, 0, 0, pad_w, 0, pad_h))
        vh = F.pad(vh, (0, 0, 0, pad_w, 0, pad_h))
    R = f * f
    G, N, M = B * heads * R, h * w, proposals * proposals

    # Heads and regions become groups, each a [points, channels] matrix: [B, f, h, f, w, E, c]
    # -> [B, E, f, f, h, w, c]. Channels-last rows serve the similarity product, the norms
    # and the row scatter/gather alike.
    x = fh.reshape(B, f, h, f, w, heads, c).permute(0, 5, 1, 3, 2, 4, 6).reshape(G, N, c)
    v = vh.reshape(B, f, h, f, w, heads, d).permute(0, 5, 1, 3, 2, 4, 6).reshape(G, N, d)

    # Centers by adaptive average pooling of each region, as products with its averaging
    # matrix: [G, M, c] and [G, M, d] straight from the channels-last points, and a product
    # again in backward.
    windows = window_averages(h, w, proposals, feats.device, x.dtype)  # [M, N]
    centers = torch.matmul(windows, x)
    value_centers = torch.matmul(windows, v)
    if padded:
        point_valid = region_validity(H, W, f, feats.device, feats.dtype)  # [R, 1, h, w]
        coverage = torch.matmul(windows, point_valid.reshape(R, N, 1)).reshape(1, R, M, 1)
        center_valid = coverage > 0
        # pooled zero-padded sums / fraction of real points = mean over real points only
        scale = torch.where(center_valid, coverage.reciprocal(), torch.zeros_like(coverage))
        centers = (centers.view(-1, R, M, c) * scale).view(G, M, c)
        value_centers = (value_centers.view(-1, R, M, d) * scale).view(G, M, d)
        center_valid = center_valid.reshape(1, R, M)

    centers = F.normalize(centers, dim=2)  # [G, M, c]
    choosable = center_valid if padded else None  # [1, R or 1, M]
    if not known_true(h >= proposals, w >= proposals):
        distinct = distinct_windows(h, w, proposals, feats.device).view(1, 1, M)
        choosable = distinct if choosable is None else choosable & distinct
    # The points are not normalised, only their M products (M per point instead of c): their
    # norms = max(norm, 1e-12), as F.normalize; squares in float32 at least (half precision
    # would overflow), clamped before the root for a finite gradient at 0.
    norms = x.to(torch.promote_types(x.dtype, torch.float32)).square().sum(2, keepdim=True)
    norms = norms.clamp_min(1e-24).sqrt()  # [G, N, 1]
    fused = fused_clustering.applies(x)
    if fused:  # the products and their argmax in registers, block by block
        assignment = fused_clustering.assign(
            x, centers, alpha, None if choosable is None else choosable.reshape(-1, M))
        cos = chosen_products(x, centers, assignment).div(norms.squeeze(2))
    else:
        # Points by centers, [G, N, M]: each point's centers lie contiguous for the argmax.
        dots = torch.bmm(x, centers.transpose(1, 2))  # not kept for backward
        with torch.no_grad():
            assignment = nearest_center(
                dots, alpha, None if choosable is None else choosable.unsqueeze(2))
        cos = chosen_products(x, centers, assignment, dots).div(norms.squeeze(2))  # [G, N]
    sim = torch.sigmoid(beta + alpha * cos)
    if padded:
        point_mask = point_valid.reshape(1, R, N)
        sim = (sim.view(-1, R, N) * point_mask).view(G, N)

    if fused:
        out = fused_clustering.aggregate_dispatch(
            v, sim.to(v.dtype), value_centers, assignment,
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
    args = (v.reshape(G * N, d), sim.reshape(G * N).to(v.dtype), value_centers.reshape(G * M, d),
            flat, counts, weighting == 'similarity')
    if not records_autograd_function(*args[:3]):
        clusters = _aggregate_dispatch(*args)[0]
        out = clusters.index_select(0, args[3]) * args[1].unsqueeze(1)
    else:
        out = AggregateDispatch.apply(*args)
    return _to_map(out, B, heads, f, h, w, d, H, W, padded, assignment, M, return_assignment)


def _to_map(out, B, heads, f, h, w, d, H, W, padded, assignment, M, return_assignment):
    """The groups' points ``[G, N, d]`` (or ``[G * N, d]``) back as the ``[B, heads * d, H,
    W]`` map, and the assignment as ``context_cluster`` returns it where asked for."""
    # [B, E, f, f, h, w, d] -> [B, f, h, f, w, E, d]: a channels-last map, the layout that the
    # following 1x1 projection and the block's point MLP run fastest on.
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
    (group ``g`` in region ``g % R``; ``R`` may be 1) rules centers out.

    ``sigmoid(beta + alpha * dots / |x|)`` is, per point, a monotone function of ``dots``:
    increasing for ``alpha > 0``, decreasing for ``alpha < 0``, constant for ``alpha = 0``. So its
    argmax is the argmax of ``sign(alpha) * dots`` (all ties, hence the first center, at
    ``alpha = 0``, as the sigmoid's). Taken there, the argmax sees no rounding of the division,
    the affine map or the sigmoid: float32's sigmoid near 0.6 has a step of 6e-8 and merges
    products a few ulps apart into ties or near ties its last bit decides (up to 39 decisions
    within 16 ulps per layer of FEC-small at 491x549, 4 with the products), and a kernel that
    rounds the sigmoid differently (onnxruntime's, a GPU's) breaks each its own way. It is also
    one pass over the ``[G, N, M]`` products where the sigmoid's ranking took four."""
    return argmax_of_valid(dots.detach() * alpha.detach().sign(), center_valid)


def _chosen_products(x, centers, assignment, dots=None):
    """``[G, N]`` product of each point with its assigned center: picked from the products
    ``dots`` ``[G, N, M]`` where given, else formed from the chosen centers."""
    if dots is not None:
        return dots.gather(2, assignment.unsqueeze(2)).squeeze(2)
    chosen = centers.gather(1, assignment.unsqueeze(2).expand(-1, -1, centers.shape[2]))
    return (x * chosen).sum(2)


class ChosenProducts(torch.autograd.Function):
    """``_chosen_products`` whose backward reads the points, the centers and the assignment.

    Autograd's ``gather`` keeps its whole input for backward: the ``[G, N, M]`` products (25 or
    49 values a point, the op's largest tensor at detection sizes) would stay alive until
    backward for one value a point, and ``x * chosen`` would keep a ``[G, N, c]`` copy of the
    chosen centers. The gradients are the chosen center for each point and each point's
    gradient-scaled row added to its center (``index_add``, as the aggregation's)."""

    @staticmethod
    def forward(ctx, x, centers, assignment, dots):
        ctx.save_for_backward(x, centers, assignment)
        return _chosen_products(x, centers, assignment, dots)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        x, centers, assignment = ctx.saved_tensors
        G, N, c = x.shape
        M = centers.shape[1]
        flat = cluster_rows(assignment, M)
        grad_rows = grad.reshape(G * N, 1)
        grad_x = grad_centers = None
        if ctx.needs_input_grad[0]:
            grad_x = centers.reshape(G * M, c).index_select(0, flat).mul_(grad_rows)
            grad_x = grad_x.to(x.dtype).view(G, N, c)
        if ctx.needs_input_grad[1]:
            grad_centers = torch.zeros(G * M, c, dtype=torch.promote_types(
                centers.dtype, grad.dtype), device=x.device)
            grad_centers.index_add_(0, flat, x.reshape(G * N, c) * grad_rows)
            grad_centers = grad_centers.to(centers.dtype).view(G, M, c)
        return grad_x, grad_centers, None, None


def chosen_products(x: torch.Tensor, centers: torch.Tensor, assignment: torch.Tensor,
                    dots: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``[G, N]`` product of each point of ``x`` ``[G, N, c]`` with its assigned center of
    ``centers`` ``[G, M, c]`` (``assignment`` ``[G, N]``), picked from the products ``dots``
    ``[G, N, M]`` where given; for training without keeping ``dots`` (``ChosenProducts``)."""
    if records_autograd_function(x, centers):
        return ChosenProducts.apply(x, centers, assignment,
                                    None if dots is None else dots.detach())
    return _chosen_products(x, centers, assignment, dots)


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
    """``AggregateDispatch``'s forward up to the dispatch: the clusters and their
    denominators."""
    numer = value_centers.index_add(0, flat, v * s.unsqueeze(1) if weighted else v)
    if counts is None:
        denom = 1 + s.new_zeros(value_centers.shape[0]).index_add(0, flat, s)
    else:
        denom = 1 + counts
    clusters = numer / denom.unsqueeze(1)
    return clusters, denom


class AggregateDispatch(torch.autograd.Function):
    """Cluster features from member points, dispatched back: ``out_n = s_n * g_{k(n)}``.

    ``g_k = (vc_k + sum_{n in k} s_n v_n) / D_k`` with ``D_k = 1 + sum_{n in k} s_n``, or
    ``1 + counts_k`` when ``counts`` is given; without ``weighted`` the members' values enter
    the sum unweighted (``sum_{n in k} v_n``). Written out (rather than left to autograd) so that
    backward keeps only ``v``, ``s`` and the small per-cluster tensors instead of the
    ``[points, dim]`` intermediates, the largest buffers of the op at detection sizes.
    """

    @staticmethod
    def forward(ctx, v, s, value_centers, flat, counts, weighted=True):
        clusters, denom = _aggregate_dispatch(v, s, value_centers, flat, counts, weighted)
        ctx.save_for_backward(v, s, flat, clusters, denom)
        ctx.by_similarity = counts is None
        ctx.weighted = weighted
        return clusters.index_select(0, flat).mul_(s.unsqueeze(1))

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        v, s, flat, clusters, denom = ctx.saved_tensors
        s_col = s.unsqueeze(1)
        grad_clusters = torch.zeros_like(clusters).index_add_(0, flat, grad * s_col)
        grad_s = clusters.index_select(0, flat).mul_(grad).sum(1)
        grad_numer = grad_clusters / denom.unsqueeze(1)  # = grad of value_centers
        spread = grad_numer.index_select(0, flat)
        if ctx.weighted:
            grad_v = spread * s_col
            grad_s += spread.mul_(v).sum(1)
        else:
            grad_v = spread
        if ctx.by_similarity:
            grad_denom = -(grad_clusters * clusters).sum(1) / denom
            grad_s += grad_denom.index_select(0, flat)
        return grad_v, grad_s, grad_numer, None, None, None


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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Traced, the 1x1 convolutions take a cropped (strided) map as it is, where a product's
        # check of its layout would guard on the size. Eagerly they are products on the
        # channels-last points (free views of a channels-last map): f and v in one, proj on
        # the op's channels-last output.
        traced = traced_by_torch()
        if traced:
            feats, values = self.f(x), self.v(x)
        else:
            weight = torch.cat([self.f.weight, self.v.weight]).flatten(1)
            fv = F.linear(x.permute(0, 2, 3, 1), weight,
                          torch.cat([self.f.bias, self.v.bias])).permute(0, 3, 1, 2)
            # (a slice's backward would zero-fill fv)
            feats, values = fv.split(self.heads * self.head_dim, dim=1)
        out = self.run_assigning(
            context_cluster, feats, values, self.sim_alpha, self.sim_beta, self.heads,
            self.proposals, self.folds, self.normalizer, weighting=self.weighting)
        if traced:
            return self.proj(out)
        return F.linear(out.permute(0, 2, 3, 1), self.proj.weight.flatten(1),
                        self.proj.bias).permute(0, 3, 1, 2)

    def extra_repr(self) -> str:
        return (f'heads={self.heads}, head_dim={self.head_dim}, proposals={self.proposals}, '
                f'folds={self.folds}, normalizer={self.normalizer!r}, '
                f'weighting={self.weighting!r}')
