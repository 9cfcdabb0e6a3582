"""The published Context-Cluster formulation, written as literally as possible.

It materialises the ``[groups, centers, points, dim]`` products of the reference implementation
on purpose: it is the yardstick that the fast op (``mmcoc.models.layers.clustering``) is
compared with in the tests and in ``tools/analysis_tools/benchmark_backbone.py``. Do not use it
in a model.
"""
import torch
import torch.nn.functional as F


def naive_context_cluster(feats, values, alpha, beta, heads, proposals, folds,
                          normalizer='similarity'):
    """Same contract as ``context_cluster`` for maps whose size divides by ``folds``."""
    B, C, H, W = feats.shape
    assert H % folds == 0 and W % folds == 0, 'the naive formulation needs divisible maps'
    f = folds

    def split(t):  # "b (e c) (f1 h) (f2 w) -> (b e f1 f2) c h w"
        ch = t.shape[1] // heads
        t = t.reshape(B, heads, ch, f, H // f, f, W // f).permute(0, 1, 3, 5, 2, 4, 6)
        return t.reshape(B * heads * f * f, ch, H // f, W // f)

    x, v = split(feats), split(values)
    G, c, h, w = x.shape
    centers = F.adaptive_avg_pool2d(x, proposals).reshape(G, c, -1).transpose(1, 2)  # [G, M, c]
    value_centers = F.adaptive_avg_pool2d(v, proposals).reshape(G, v.shape[1], -1).transpose(1, 2)
    points = x.reshape(G, c, -1).transpose(1, 2)  # [G, N, c]
    cos = F.normalize(centers, dim=-1) @ F.normalize(points, dim=-1).transpose(1, 2)  # [G, M, N]
    sim = torch.sigmoid(beta + alpha * cos)
    _, best = sim.max(dim=1, keepdim=True)
    mask = torch.zeros_like(sim).scatter_(1, best, 1.0)
    sim = sim * mask
    value_points = v.reshape(G, v.shape[1], -1).transpose(1, 2)  # [G, N, d]
    denom = sim.sum(-1, keepdim=True) if normalizer == 'similarity' else mask.sum(-1, keepdim=True)
    weighted = (value_points.unsqueeze(1) * sim.unsqueeze(-1)).sum(2)  # [G, M, N, d] -> [G, M, d]
    clusters = (weighted + value_centers) / (denom + 1)
    out = (clusters.unsqueeze(2) * sim.unsqueeze(-1)).sum(1)  # [G, N, d]
    d = out.shape[-1]
    out = out.reshape(B, heads, f, f, h, w, d).permute(0, 1, 6, 2, 4, 3, 5)
    return out.reshape(B, heads * d, H, W)
