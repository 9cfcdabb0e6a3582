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


class ConvBNReLURes1D(nn.Module):
    """Residual point MLP on rows: ``relu(bn(conv(relu(bn(conv(x))))) + x)``."""

    def __init__(self, channels: int, res_expansion: float = 1.0, bias: bool = False):
        super().__init__()
        hidden = int(channels * res_expansion)
        self.net1 = nn.Sequential(nn.Conv1d(channels, hidden, 1, bias=bias),
                                  nn.BatchNorm1d(hidden), nn.ReLU(inplace=True))
        self.net2 = nn.Sequential(nn.Conv1d(hidden, channels, 1, bias=bias),
                                  nn.BatchNorm1d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv1, norm1, act = self.net1
        conv2, norm2 = self.net2
        y = act(norm1(F.linear(x, conv1.weight.squeeze(-1), conv1.bias)))
        y = norm2(F.linear(y, conv2.weight.squeeze(-1), conv2.bias))
        return F.relu(y + x, inplace=True)


def group_similarity(feats: torch.Tensor, alpha: torch.Tensor, beta: torch.Tensor
                     ) -> torch.Tensor:
    """``sigmoid(beta + alpha * cos(point, center))`` of every point of every group,
    ``feats`` ``[G, k, heads, c]`` -> ``[G, k, heads]``; a group's center is its mean."""
    center = F.normalize(feats.mean(1), dim=-1)  # [G, heads, c]
    # the points' products with their center, over their norms: no normalised copy of them
    dots = torch.matmul(feats.transpose(1, 2), center.unsqueeze(-1)).squeeze(-1)  # [G, E, k]
    norms = torch.linalg.vector_norm(feats, dim=-1).clamp_min(1e-12)  # [G, k, E]
    return torch.sigmoid(beta + alpha * dots.transpose(1, 2) / norms)


class GroupContextCluster(nn.Module):
    """The context cluster of PointMLP_CoC: each group of ``k`` points is one cluster.

    Per group and head, the center is the mean of the group's ``fc1`` features and its value the
    mean of its ``fc_v`` values; every member is weighted by ``s_n = sigmoid(beta + alpha *
    cos(point n, center))``, the cluster feature is ``g = (v_center + sum_n s_n v_n) /
    (1 + sum_n s_n)`` (Eq. 1 of the paper; ``normalizer='count'``: ``/ (1 + k)``) and each member
    receives ``s_n g``, projected by ``fc2`` and added to its input.

    One cluster per group makes every step a per-group product: ``fc1`` and ``fc_v`` are one
    product over the rows, the weighted sum is ``s @ values`` per group, and since ``fc2`` is
    linear, ``fc2(s_n g) = s_n fc2'(g) + b`` (``fc2'`` without its bias, per head): ``fc2``
    runs once per group, not once per point, and no ``[points, heads * c]`` dispatch tensor is
    formed. ``fc1``/``fc_v``/``fc2`` are ``Linear`` layers as in the official code.
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

    def forward(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """``x``: rows ``[G * k, dim]``, the ``k`` points of each group contiguous."""
        G, E, d = x.shape[0] // k, self.heads, self.head_dim
        both = F.linear(x, torch.cat([self.fc1.weight, self.fc_v.weight]),
                        torch.cat([self.fc1.bias, self.fc_v.bias])).view(G, k, 2, E, d)
        feats, values = both.unbind(2)  # [G, k, E, d] each
        sim = group_similarity(feats, self.sim_alpha, self.sim_beta).to(values.dtype)
        if self.keep_similarity:
            self.last_similarity = sim.detach()
        weights = sim.permute(0, 2, 1).unsqueeze(2)  # [G, E, 1, k]
        summed = torch.matmul(weights, values.transpose(1, 2)).squeeze(2)  # [G, E, d]
        denom = (1 + sim.sum(1)).unsqueeze(-1) if self.normalizer == 'similarity' else 1 + k
        clusters = (values.mean(1) + summed) / denom  # [G, E, d]
        # fc2 of each head's cluster feature, once per group: [G, E, dim]
        projected = torch.matmul(clusters.unsqueeze(2),
                                 self.fc2.weight.view(-1, E, d).permute(1, 2, 0)).squeeze(2)
        out = torch.baddbmm(self.fc2.bias, sim, projected)  # s_n-weighted sum over heads
        return x + out.view(G * k, -1)

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
        for layer in self.operation:
            x = layer(x, k) if isinstance(layer, GroupContextCluster) else layer(x)
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
