"""Cluster maps of PointMLP_CoC: how similar every member of a group is to its group's center.

In PointMLP_CoC each group (an anchor and its ``k`` nearest neighbours) is one cluster; the
context cluster weighs each member by ``s = sigmoid(beta + alpha * cos(member, center))``.
``record_point_clusters`` runs the model's real forward pass on one cloud and keeps, for one
stage and block, the stage's input points, its anchors, their neighbours and every member's
``s``; ``draw_point_clusters`` draws them as a 3-D scatter (matplotlib): the stage's points in
light grey, the members of a few groups coloured by ``s``, each anchor as a black cross.
"""
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch


@dataclass
class PointClusters:
    """One cloud's clusters at one stage/block: ``points`` ``[N, 3]`` (the stage's input),
    ``anchors`` ``[S]`` and ``neighbours`` ``[S, k]`` (indices into ``points``),
    ``similarity`` ``[S, k]`` (of the chosen head)."""
    points: np.ndarray
    anchors: np.ndarray
    neighbours: np.ndarray
    similarity: np.ndarray
    stage: int
    block: int
    head: int


def cluster_layers(backbone, stage: int):
    layers, _ = backbone.stage_clusters(stage)
    if not layers:
        raise ValueError(f'stage {stage} has no context cluster (a PointMLP without them?)')
    return layers


@torch.no_grad()
def record_point_clusters(backbone, points: torch.Tensor, stage: int = 0, block: int = 0,
                          head: int = 0) -> PointClusters:
    """Run ``backbone`` (a ``PointMLP`` with context clusters, in eval mode) on ``points``
    ``[N, 3]`` and keep what the context cluster of ``stage``/``block`` saw."""
    layers = cluster_layers(backbone, stage)
    if not 0 <= block < len(layers):
        raise ValueError(f'stage {stage}: blocks 0-{len(layers) - 1}')
    layer, grouper = layers[block], backbone.stage_clusters(stage)[1]
    if not 0 <= head < layer.heads:
        raise ValueError(f'heads 0-{layer.heads - 1}')
    layer.keep_similarity = grouper.keep_groups = True
    try:
        backbone(points[None].float())
        xyz, anchors, neighbours = grouper.last_groups
        similarity = layer.last_similarity
    finally:
        layer.keep_similarity = grouper.keep_groups = False
        layer.last_similarity = grouper.last_groups = None
    S, k = neighbours.shape[1:]
    return PointClusters(xyz[0].cpu().numpy(), anchors[0].cpu().numpy(),
                         neighbours[0].cpu().numpy(),
                         similarity.view(S, k, -1)[:, :, head].cpu().numpy(), stage, block, head)


def draw_point_clusters(clusters: PointClusters, groups: Optional[int] = 8,
                        title: str = ''):
    """The 3-D scatter of ``clusters``: all its points in grey, the members of the first
    ``groups`` groups (furthest-point order, so spread over the object; None: all) coloured by
    their similarity to their center (the colour bar spans the drawn values; a point in several
    groups shows the last one's), anchors as black crosses. Returns the matplotlib figure
    and what it drew: ``dict(points=, groups=, members=, anchors=)``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    S = len(clusters.anchors)
    shown = S if groups is None else max(1, min(groups, S))
    members = clusters.neighbours[:shown].reshape(-1)
    sims = clusters.similarity[:shown].reshape(-1)
    pts, anchors = clusters.points, clusters.points[clusters.anchors[:shown]]
    fig = plt.figure(figsize=(7, 6))
    ax = fig.add_subplot(projection='3d')
    ax.scatter(*pts.T, s=2, c='0.8', depthshade=False)
    # the colours span the drawn similarities (a trained model's often sit in a narrow band)
    low, high = float(sims.min()), float(sims.max())
    if high - low < 1e-3:
        low, high = low - 5e-4, high + 5e-4
    drawn = ax.scatter(*pts[members].T, s=10, c=sims, cmap='viridis', vmin=low, vmax=high,
                       depthshade=False)
    ax.scatter(*anchors.T, s=60, c='k', marker='x', depthshade=False)
    fig.colorbar(drawn, ax=ax, shrink=0.7, label='similarity to the group center')
    ax.set_title(title or f'stage {clusters.stage}, block {clusters.block}, head '
                 f'{clusters.head}: {shown} of {S} groups of {clusters.neighbours.shape[1]}',
                 fontsize=9)
    extent = np.ptp(pts, 0)
    ax.set_box_aspect(np.maximum(extent, 0.4 * extent.max()) + 1e-6)  # flat objects stay legible
    return fig, dict(points=len(pts), groups=shown, members=len(members), anchors=shown)
