"""PointMLP and PointMLP_CoC ("Image as Set of Points", ICLR'23, its point-cloud experiment).

The official point-cloud code (``ma-xu/Context-Cluster``, ``pointcloud/models/``) builds the
Context-Cluster model on PointMLP: embed every point 3 -> 64, then four stages, each

1. **local grouping**: furthest-point sampling of ``points / reducer`` anchors, their ``k``
   nearest neighbours, normalised against the anchor (``(x - anchor) / (std + 1e-5)`` with one
   std over the whole sample, then a learnable affine), concatenated with the anchor's feature;
2. **pre-extraction** inside every group: a transfer MLP to the stage's width, ``blocks`` x
   [**context cluster** over the group's ``k`` points (PointMLP_CoC only), residual point MLP],
   max-pooled over the group;
3. **pos-extraction**: residual point MLPs over the anchors;

then a global max-pool and an MLP classifier (``PointMLPClsHead``). PointMLP is the same network
without the context-cluster blocks (``context_cluster=False``).

Every point-wise layer here is a kernel-1 ``Conv1d`` + ``BatchNorm1d`` as in the official code
(same parameter names and shapes: official weights load unchanged, see ``official_key``), but
computed on rows of points, ``[points, channels]``: a kernel-1 convolution over ``[B, C, L]`` is
a matmul over ``B * L`` rows and batch norm's statistics run over the same ``B * L`` values, so
nothing is transposed between the layers and the context cluster's linear maps.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmcoc.registry import MODELS

from ..layers.clustering import check_normalizer
from ..layers.tracing import records_autograd_function
from .ops import furthest_point_sample, gather_points, knn_query


class ConvBNReLU1D(nn.Module):
    """Kernel-1 conv, batch norm, ReLU on rows ``[M, C_in] -> [M, C_out]``."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = False):
        super().__init__()
        self.net = nn.Sequential(nn.Conv1d(in_channels, out_channels, 1, bias=bias),
                                 nn.BatchNorm1d(out_channels), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv, norm, act = self.net
        return act(norm(F.linear(x, conv.weight.squeeze(-1), conv.bias)))


class GroupOffset:
    """Groups ``x + offset`` kept factored: the offset of point ``n`` of group ``g`` is
    ``weights[g, n] @ vectors[g] + bias`` (``[G, k, r] @ [G, r, C]``, ``r`` much smaller than
    ``k``).

    A context cluster's output is such an offset (one vector per head, and ``fc2``'s bias), and
    the residual MLP after it needs ``x + offset`` only twice: through its first linear map and
    in its residual sum. A linear map of a factored offset is the map of its few vectors and its
    bias, so neither place forms ``x + offset`` as a tensor that autograd keeps: the block saves
    ``x``, which the layer before it saves anyway.

    Every method takes and returns groups ``[G, k, C]``, never a view of ``x``: autograd adds a
    tensor's gradients in place only where the first one to arrive is not a view, and ``x``
    gets two of the size of all points (the residual's, and the cluster's with the linear
    map's: ``GroupWeights``).
    """

    def __init__(self, weights: torch.Tensor, vectors: torch.Tensor, bias: torch.Tensor):
        self.weights, self.vectors, self.bias = weights, vectors, bias

    def linear(self, product: torch.Tensor, weight: torch.Tensor,
               bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``F.linear(x + offset, weight, bias)`` from ``product = x @ weight.T``, a tensor of
        its own (not a view), which takes the offset in place."""
        mapped = GroupOffset(self.weights, torch.matmul(self.vectors, weight.t()),
                             F.linear(self.bias, weight, bias))
        return product.baddbmm_(*mapped._with_bias(product.dtype))

    def add_to(self, x: torch.Tensor) -> torch.Tensor:
        """``x + offset``."""
        return torch.baddbmm(x, *self._with_bias(x.dtype))

    def add_relu(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``relu(y + x + offset)`` as one new tensor: a residual block's output."""
        out = torch.add(y, x)
        return out.baddbmm_(*self._with_bias(out.dtype)).relu_()

    def _with_bias(self, dtype: torch.dtype) -> Tuple[torch.Tensor, torch.Tensor]:
        """The bias as one more column of weights (ones) and vectors: one batched product (in
        ``dtype``, the target's: under autocast the parts can differ)."""
        G, k, _ = self.weights.shape
        return (torch.cat([self.weights.to(dtype), self.weights.new_ones(G, k, 1, dtype=dtype)],
                          -1),
                torch.cat([self.vectors.to(dtype), self.bias.to(dtype).expand(G, 1, -1)], 1))


class ConvBNReLURes1D(nn.Module):
    """Residual point MLP on rows: ``relu(bn(conv(relu(bn(conv(x))))) + x)``; with the
    context cluster before it, of ``x + cluster's offset`` (``GroupOffset``), ``x`` and the
    output groups ``[G, k, C]``."""

    def __init__(self, channels: int, res_expansion: float = 1.0, bias: bool = False):
        super().__init__()
        hidden = int(channels * res_expansion)
        self.net1 = nn.Sequential(nn.Conv1d(channels, hidden, 1, bias=bias),
                                  nn.BatchNorm1d(hidden), nn.ReLU(inplace=True))
        self.net2 = nn.Sequential(nn.Conv1d(hidden, channels, 1, bias=bias),
                                  nn.BatchNorm1d(channels))

    def forward(self, x: torch.Tensor,
                cluster: Optional['GroupContextCluster'] = None) -> torch.Tensor:
        conv1, norm1, act = self.net1
        conv2, norm2 = self.net2
        weight1 = conv1.weight.squeeze(-1)
        if cluster is None:
            y = F.linear(x, weight1, conv1.bias)
        else:  # the cluster computes x's product with weight1 beside its own (one gradient)
            offset, product = cluster.offset_and_product(x, weight1)
            y = offset.linear(product, weight1, conv1.bias)
        y = act(norm1(y.view(-1, y.shape[-1])))
        y = norm2(F.linear(y, conv2.weight.squeeze(-1), conv2.bias)).view_as(x)
        return F.relu(y + x, inplace=True) if cluster is None else offset.add_relu(y, x)


def group_weights(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                  alpha: torch.Tensor, beta: torch.Tensor, heads: int):
    """``fc1``, every point's similarity to its group's center and ``fc_v``'s input per group:
    ``x [G, k, C] -> sim [G, k, heads], inputs [G, heads, C]``, and the intermediates that
    ``GroupWeights``' backward reads.

    ``sim = sigmoid(beta + alpha * cos(fc1(x_n), mean_n fc1(x_n)))`` per head and ``inputs =
    (sim + 1/k)^T @ x``: the group's mean (the value center's input) plus its ``sim``-weighted
    sum.
    """
    G, k, _ = x.shape
    feats = F.linear(x, weight, bias).view(G, k, heads, -1)
    center = feats.mean(1)  # [G, heads, d]
    center_norm = torch.linalg.vector_norm(center, dim=-1, keepdim=True).clamp_min(1e-12)
    unit = center / center_norm
    norms = torch.linalg.vector_norm(feats, dim=-1).clamp_min(1e-12)  # [G, k, heads]
    # the points' products with their unit center, over their norms: no normalised copy
    cos = torch.matmul(feats.transpose(1, 2), unit.unsqueeze(-1)).squeeze(-1)
    cos = cos.transpose(1, 2) / norms
    sim = torch.sigmoid(beta + alpha * cos)
    inputs = torch.matmul((sim + 1 / k).transpose(1, 2), x)
    return sim, inputs, (feats, unit, center_norm, norms, cos)


class GroupWeights(torch.autograd.Function):
    """``group_weights`` with its backward written out, for training; with ``next_weight``
    also ``product = x @ next_weight.T``, the first product of the residual MLP after the
    cluster (``None`` without).

    Autograd would give ``x`` three full-size gradients to add (from ``fc1``, from the weighted
    sum, from the MLP's product: two of them fresh sums) and the features four; here each is
    one tensor, written once. The point rows are large and these steps memory-bound, so the
    passes and allocations saved are most of what the context cluster's backward costs beyond
    PointMLP's.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, alpha, beta, next_weight, heads: int):
        # everything in x's dtype (autocast off), the dtype the backward computes in
        with torch.autocast(x.device.type, enabled=False):
            weight, bias, alpha, beta = (t.to(x.dtype) for t in (weight, bias, alpha, beta))
            sim, inputs, saved = group_weights(x, weight, bias, alpha, beta, heads)
            if next_weight is not None:
                next_weight = next_weight.to(x.dtype)
                product = torch.matmul(x, next_weight.t())
        ctx.save_for_backward(x, weight, alpha, next_weight, *saved, sim)
        return sim, inputs, None if next_weight is None else product

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_sim, grad_inputs, grad_product):
        x, weight, alpha, next_weight, feats, unit, center_norm, norms, cos, sim = \
            ctx.saved_tensors
        G, k, _ = x.shape
        grad_sim = torch.baddbmm(grad_sim, x, grad_inputs.transpose(1, 2))  # + the sum's
        grad_z = grad_sim * sim * (1 - sim)  # through the sigmoid
        grad_alpha = (grad_z * cos).sum().view_as(alpha)
        grad_beta = grad_z.sum().view_as(alpha)
        grad_cos = grad_z * alpha / norms  # [G, k, heads]
        # cos_n = f_n . u / |f_n|, u = c / |c|, c = mean_n f_n:
        # d/df_n = grad_cos_n (u - cos_n f_n / |f_n|) + (I - u u^T) sum_m grad_cos_m f_m / (k |c|)
        through_center = torch.matmul(grad_cos.permute(0, 2, 1).unsqueeze(2),
                                      feats.transpose(1, 2)).squeeze(2)  # [G, heads, d]
        through_center = (through_center - (through_center * unit).sum(-1, keepdim=True) * unit
                          ) / (center_norm * k)
        grad_feats = torch.addcmul(through_center.unsqueeze(1), grad_cos.unsqueeze(-1),
                                   unit.unsqueeze(1))
        grad_feats.addcmul_(feats, (-grad_cos * cos / norms).unsqueeze(-1))
        grad_feats = grad_feats.view(G * k, -1)
        rows = x.view(G * k, -1)
        grad_next_weight = None
        if grad_product is None:
            grad_x = torch.mm(grad_feats, weight)
        else:
            grad_product = grad_product.reshape(G * k, -1)
            grad_x = torch.mm(grad_product, next_weight).addmm_(grad_feats, weight)
            if ctx.needs_input_grad[5]:
                grad_next_weight = grad_product.t().mm(rows)
        grad_x = grad_x.view(G, k, -1).baddbmm_(sim + 1 / k, grad_inputs)
        return (grad_x, grad_feats.t().mm(rows), grad_feats.sum(0), grad_alpha, grad_beta,
                grad_next_weight, None)


class GroupContextCluster(nn.Module):
    """The context cluster of PointMLP_CoC: each group of ``k`` points is one cluster.

    Per group and head, the center is the mean of the group's ``fc1`` features and its value the
    mean of its ``fc_v`` values; every member is weighted by ``s_n = sigmoid(beta + alpha *
    cos(point n, center))``, the cluster feature is ``g = (v_center + sum_n s_n v_n) /
    (1 + sum_n s_n)`` (Eq. 1 of the paper; ``normalizer='count'``: ``/ (1 + k)``) and each member
    receives ``s_n g``, projected by ``fc2`` and added to its input.

    One cluster per group makes everything but the similarity a per-group product. ``fc_v`` and
    ``fc2`` are linear, so ``sum_n s_n fc_v(x_n) = W_v (sum_n s_n x_n) + b_v sum_n s_n`` and
    ``v_center = fc_v(mean_n x_n)``: ``fc_v`` runs on two vectors per group instead of on every
    point, and ``fc2(s_n g) = s_n fc2'(g) + b`` (``fc2'`` without its bias, per head) once per
    group. Only ``fc1`` (for the cosines) runs on every point. The output is a ``GroupOffset``
    (``offset``), which the residual MLP that follows takes without forming ``x + offset``;
    ``forward`` adds it. ``fc1``/``fc_v``/``fc2`` are ``Linear`` layers as in the official code.
    """

    def __init__(self, dim: int, heads: int = 1, head_dim: int = 32,
                 normalizer: str = 'similarity'):
        super().__init__()
        check_normalizer(normalizer)
        self.heads, self.head_dim, self.normalizer = heads, head_dim, normalizer
        self.fc1 = nn.Linear(dim, heads * head_dim)
        self.fc2 = nn.Linear(heads * head_dim, dim)
        self.fc_v = nn.Linear(dim, heads * head_dim)
        self.sim_alpha = nn.Parameter(torch.ones(1))
        self.sim_beta = nn.Parameter(torch.zeros(1))
        self.keep_similarity = False  # the visualisation's switch: keep last_similarity
        self.last_similarity: Optional[torch.Tensor] = None

    def offset(self, x: torch.Tensor) -> GroupOffset:
        """What the cluster adds to groups ``x`` ``[G, k, dim]``, factored: ``s_n @ fc2'(g)``
        (per head) ``+ fc2``'s bias."""
        return self._offset(x)[0]

    def offset_and_product(self, x: torch.Tensor,
                           weight: torch.Tensor) -> Tuple[GroupOffset, torch.Tensor]:
        """``offset(x)`` and ``x @ weight.T`` (the next layer's product, a tensor of its own),
        computed together: in training, ``x`` then gets one gradient from both."""
        return self._offset(x, weight)

    def _offset(self, x: torch.Tensor, next_weight: Optional[torch.Tensor] = None):
        k, E, d = x.shape[1], self.heads, self.head_dim
        args = (x, self.fc1.weight, self.fc1.bias, self.sim_alpha, self.sim_beta)
        if records_autograd_function(*args):
            sim, inputs, product = GroupWeights.apply(*args, next_weight, E)
        else:  # inference, TorchScript tracing (FLOPs), export: the products recorded plainly
            sim, inputs, _ = group_weights(*args, E)
            product = None if next_weight is None else torch.matmul(x, next_weight.t())
        if self.keep_similarity:
            self.last_similarity = sim.detach()
        weight_v = self.fc_v.weight.view(E, d, -1)
        values = torch.matmul(inputs.transpose(0, 1), weight_v.transpose(1, 2))  # [E, G, d]
        total = 1 + sim.sum(1).t().unsqueeze(-1)  # [E, G, 1]: fc_v's bias, 1 + sum_n s_n times
        denom = total if self.normalizer == 'similarity' else 1 + k
        clusters = (values + total * self.fc_v.bias.view(E, 1, d)) / denom
        weight_2 = self.fc2.weight.view(-1, E, d).permute(1, 2, 0)  # [E, d, dim]
        projected = torch.matmul(clusters, weight_2).transpose(0, 1)  # [G, E, dim]
        return GroupOffset(sim, projected, self.fc2.bias), product

    def forward(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """Rows ``x`` ``[G * k, dim]``, the ``k`` points of each group contiguous."""
        groups = x.view(-1, k, x.shape[-1])
        return self.offset(groups).add_to(groups).view_as(x)

    def extra_repr(self) -> str:
        return f'heads={self.heads}, head_dim={self.head_dim}, normalizer={self.normalizer!r}'


class LocalGrouper(nn.Module):
    """Furthest-point anchors, their ``k`` nearest neighbours, normalised and concatenated with
    the anchor's feature: ``xyz [B, N, 3], feats [B, N, C] -> [B, S, 3], [B, S, k, 2C (+3)]``.

    ``normalize='anchor'`` subtracts the anchor (``'center'``: the group mean) and divides by the
    std of all those differences of the sample (one number per sample, unbiased, as
    ``torch.std``) plus 1e-5, then applies the learnable ``affine_alpha``/``affine_beta``.
    """

    def __init__(self, channels: int, groups: int, k: int, use_xyz: bool = False,
                 normalize: Optional[str] = 'anchor'):
        super().__init__()
        if normalize not in ('anchor', 'center', None):
            raise ValueError(f"normalize must be 'anchor', 'center' or None, got {normalize!r}")
        self.groups, self.k, self.use_xyz, self.normalize = groups, k, use_xyz, normalize
        if normalize is not None:
            width = channels + (3 if use_xyz else 0)
            self.affine_alpha = nn.Parameter(torch.ones(1, 1, 1, width))
            self.affine_beta = nn.Parameter(torch.zeros(1, 1, 1, width))
        self.keep_groups = False  # the visualisation's switch: keep last_groups
        self.last_groups = None

    def forward(self, xyz: torch.Tensor, feats: torch.Tensor):
        B, N, _ = xyz.shape
        if N < max(self.groups, self.k):
            raise ValueError(f'{N} points cannot make {self.groups} groups of {self.k}')
        anchors = furthest_point_sample(xyz, self.groups)  # [B, S]
        new_xyz = gather_points(xyz, anchors)
        anchor_feats = gather_points(feats, anchors)  # [B, S, C]
        neighbours = knn_query(xyz, new_xyz, self.k)  # [B, S, k]
        if self.keep_groups:
            self.last_groups = (xyz.detach(), anchors, neighbours)
        grouped = gather_points(feats, neighbours)  # [B, S, k, C]
        if self.use_xyz:
            grouped = torch.cat([grouped, gather_points(xyz, neighbours)], dim=-1)
        if self.normalize is not None:
            if self.normalize == 'center':
                mean = grouped.mean(2, keepdim=True)
            else:
                mean = (torch.cat([anchor_feats, new_xyz], -1) if self.use_xyz
                        else anchor_feats).unsqueeze(2)
            diff = grouped - mean
            std = diff.reshape(B, -1).std(-1).view(B, 1, 1, 1)
            grouped = self.affine_alpha * (diff / (std + 1e-5)) + self.affine_beta
        anchor_feats = anchor_feats.unsqueeze(2).expand(-1, -1, self.k, -1)
        return new_xyz, torch.cat([grouped, anchor_feats], dim=-1)


class PreExtraction(nn.Module):
    """Inside every group: transfer MLP, ``blocks`` x [context cluster, residual MLP] (or the
    residual MLPs alone), max over the group: ``[B, S, k, C_in] -> [B, S, C_out]``."""

    def __init__(self, in_channels: int, out_channels: int, blocks: int,
                 res_expansion: float = 1.0, bias: bool = False, context_cluster: bool = True,
                 heads: int = 1, head_dim: Optional[int] = None,
                 normalizer: str = 'similarity'):
        super().__init__()
        self.transfer = ConvBNReLU1D(in_channels, out_channels, bias=bias)
        head_dim = head_dim or max(out_channels // 4, 32)
        layers = []
        for _ in range(blocks):
            if context_cluster:
                layers.append(GroupContextCluster(out_channels, heads, head_dim, normalizer))
            layers.append(ConvBNReLURes1D(out_channels, res_expansion, bias=bias))
        self.operation = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, S, k, C = x.shape
        x = self.transfer(x.reshape(B * S * k, C))
        if len(self.operation) and isinstance(self.operation[0], GroupContextCluster):
            x = x.view(B * S, k, -1)  # groups from here on: see GroupOffset
        cluster = None  # a context cluster, for the residual MLP after it to run
        for layer in self.operation:
            if isinstance(layer, GroupContextCluster):
                cluster = layer
            else:
                x, cluster = layer(x, cluster), None
        return x.view(B, S, k, -1).max(2).values


class PosExtraction(nn.Module):
    """Residual point MLPs over the anchors: ``[B, S, C] -> [B, S, C]``."""

    def __init__(self, channels: int, blocks: int, res_expansion: float = 1.0,
                 bias: bool = False):
        super().__init__()
        self.operation = nn.Sequential(*[ConvBNReLURes1D(channels, res_expansion, bias=bias)
                                         for _ in range(blocks)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, S, C = x.shape
        return self.operation(x.reshape(B * S, C)).view(B, S, C)


@MODELS.register_module()
class PointMLP(BaseModule):
    """PointMLP_CoC (the defaults: the official ``pointMLP_CoC``) or, with
    ``context_cluster=False``, PointMLP (the official ``pointMLP``).

    Input: points ``[B, N, 3]`` (xyz; ``N >= points``); output: a 1-tuple of the globally
    max-pooled features ``[B, embed_dim * prod(dim_expansion)]`` for a classification head.

    Args:
        points: points the stages plan for; stage ``i`` keeps ``points / prod(reducers[:i+1])``
            anchors.
        embed_dim: width of the point embedding (3 -> embed_dim).
        dim_expansion, pre_blocks, pos_blocks, k_neighbors, reducers: per stage: width factor,
            [context cluster +] residual MLP blocks inside the groups, residual MLP blocks over
            the anchors, group size, sampling factor.
        res_expansion: hidden width factor of the residual MLPs.
        bias: biases of the point-wise convs (the official models: False).
        use_xyz: concatenate the neighbours' xyz to their features (official: False).
        normalize: 'anchor' (official), 'center' or None.
        context_cluster: the context-cluster blocks of PointMLP_CoC.
        cluster_heads: heads of each context cluster (official: 1).
        cluster_head_dim: channels per head; None: ``max(width / 4, 32)`` (official).
        cluster_normalizer: 'similarity' (``1 + sum(s)``, the official code) or 'count'.
    """

    def __init__(self,
                 points: int = 1024,
                 embed_dim: int = 64,
                 dim_expansion: Sequence[int] = (2, 2, 2, 2),
                 pre_blocks: Sequence[int] = (2, 2, 2, 2),
                 pos_blocks: Sequence[int] = (2, 2, 2, 2),
                 k_neighbors: Sequence[int] = (24, 24, 24, 24),
                 reducers: Sequence[int] = (2, 2, 2, 2),
                 res_expansion: float = 1.0,
                 bias: bool = False,
                 use_xyz: bool = False,
                 normalize: Optional[str] = 'anchor',
                 context_cluster: bool = True,
                 cluster_heads: int = 1,
                 cluster_head_dim: Optional[int] = None,
                 cluster_normalizer: str = 'similarity',
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        stages = len(pre_blocks)
        if not len(dim_expansion) == len(pos_blocks) == len(k_neighbors) == len(reducers) \
                == stages:
            raise ValueError('dim_expansion, pre_blocks, pos_blocks, k_neighbors and reducers '
                             'need one entry per stage')
        self.points = points
        self.embedding = ConvBNReLU1D(3, embed_dim, bias=bias)
        self.local_grouper_list = nn.ModuleList()
        self.pre_blocks_list = nn.ModuleList()
        self.pos_blocks_list = nn.ModuleList()
        channels, anchors = embed_dim, points
        for i in range(stages):
            out_channels = channels * dim_expansion[i]
            anchors //= reducers[i]
            if anchors < 1:
                raise ValueError(f'stage {i} keeps no anchor of {points} points')
            self.local_grouper_list.append(
                LocalGrouper(channels, anchors, k_neighbors[i], use_xyz, normalize))
            self.pre_blocks_list.append(PreExtraction(
                2 * channels + (3 if use_xyz else 0), out_channels, pre_blocks[i], res_expansion,
                bias, context_cluster, cluster_heads, cluster_head_dim, cluster_normalizer))
            self.pos_blocks_list.append(
                PosExtraction(out_channels, pos_blocks[i], res_expansion, bias))
            channels = out_channels
        self.out_channels = channels

    @property
    def built_stages(self) -> int:
        return len(self.pre_blocks_list)

    def stage_clusters(self, stage: int) -> Tuple[List['GroupContextCluster'], 'LocalGrouper']:
        """The context clusters of ``stage`` in forward order, and the grouper that makes the
        groups they cluster (its ``keep_groups`` records them)."""
        if not 0 <= stage < self.built_stages:
            raise ValueError(f'stage {stage}: the model has stages 0-{self.built_stages - 1}')
        layers = [m for m in self.pre_blocks_list[stage].operation
                  if isinstance(m, GroupContextCluster)]
        return layers, self.local_grouper_list[stage]

    def forward(self, xyz: torch.Tensor):
        if xyz.dim() != 3 or xyz.shape[-1] != 3:
            raise ValueError(f'PointMLP takes points [B, N, 3], got {tuple(xyz.shape)}')
        B, N, _ = xyz.shape
        x = self.embedding(xyz.reshape(B * N, 3)).view(B, N, -1)
        for grouper, pre, pos in zip(self.local_grouper_list, self.pre_blocks_list,
                                     self.pos_blocks_list):
            xyz, grouped = grouper(xyz, x)
            x = pos(pre(grouped))
        return (x.max(1).values, )


def official_key(key: str) -> str:
    """The mmcoc name of a key of an official PointMLP / PointMLP_CoC checkpoint (its ``net``
    dict, saved from ``nn.DataParallel``): the classifier goes to the head, the rest to the
    backbone."""
    key = key[len('module.'):] if key.startswith('module.') else key
    return ('head.' if key.startswith('classifier.') else 'backbone.') + key
