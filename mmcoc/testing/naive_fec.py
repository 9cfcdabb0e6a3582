"""FEC's clustering written as literally as possible, one region of one image at a time.

The yardstick of the fast ops (``context_cluster(..., weighting='plain')`` and
``cluster_pool``) in the tests. Python loops over images, heads and regions and over every
center's pooling window, dense ``[centers, points]`` masks and ``[centers, points, dim]``
products as in the released code; a map that does not divide is handled by taking each
region's and window's real points only, with no padding at all. Do not use it in a model.
"""
import math

import torch
import torch.nn.functional as F


def _span(index: int, size: int, parts: int):
    """Rows (or columns) of part ``index`` of ``size`` split into ``parts``, as adaptive pooling
    splits them."""
    return math.floor(index * size / parts), math.ceil((index + 1) * size / parts)


def _cluster_region(x, v, centers, value_centers, valid, sim_fn):
    """Hard-assign the points ``x`` ``[N, c]`` to ``centers`` ``[M, c]``; return (cluster
    features ``[M, d]``, member mask ``[M, N]``, similarities ``[M, N]``)."""
    sim = sim_fn(F.normalize(centers, dim=-1) @ F.normalize(x, dim=-1).T)  # [M, N]
    ranked = sim.detach().masked_fill(~valid[:, None], -math.inf)
    mask = F.one_hot(ranked.argmax(0), centers.shape[0]).T.to(v.dtype)  # [M, N]
    summed = (v.unsqueeze(0) * mask.unsqueeze(-1)).sum(1)  # [M, N, d] -> [M, d]
    clusters = (summed + value_centers) / (mask.sum(1, keepdim=True) + 1)
    return clusters, mask, sim


def naive_fec_cluster(feats, values, alpha, beta, heads, proposals, folds):
    """FEC's token mixer: ``context_cluster(..., normalizer='count', weighting='plain',
    return_assignment=True)`` for any map size."""
    B, C, H, W = feats.shape
    c, d = C // heads, values.shape[1] // heads
    hr, wr = math.ceil(H / folds), math.ceil(W / folds)  # region size, as the op pads
    out = values.new_zeros(B, heads * d, H, W)
    assignment = torch.zeros(B, heads, H, W, dtype=torch.long)
    p = proposals
    for b in range(B):
        for e in range(heads):
            x_map, v_map = feats[b, e * c:(e + 1) * c], values[b, e * d:(e + 1) * d]
            for r1 in range(folds):
                for r2 in range(folds):
                    top, left = r1 * hr, r2 * wr
                    rows, cols = slice(top, min(top + hr, H)), slice(left, min(left + wr, W))
                    x, v = x_map[:, rows, cols], v_map[:, rows, cols]
                    if x.numel() == 0:
                        continue
                    centers, value_centers, valid = [], [], []
                    for i in range(p):
                        for j in range(p):
                            r0, r1_ = _span(i, hr, p)
                            c0, c1 = _span(j, wr, p)
                            window = (slice(top + r0, min(top + r1_, H)),
                                      slice(left + c0, min(left + c1, W)))
                            xw, vw = x_map[:, window[0], window[1]], v_map[:, window[0], window[1]]
                            valid.append(xw.numel() > 0)
                            centers.append(xw.mean((1, 2)) if xw.numel() else x.new_zeros(c))
                            value_centers.append(vw.mean((1, 2)) if vw.numel() else v.new_zeros(d))
                    h, w = x.shape[1:]
                    clusters, mask, sim = _cluster_region(
                        x.reshape(c, -1).T, v.reshape(d, -1).T, torch.stack(centers),
                        torch.stack(value_centers), torch.tensor(valid),
                        lambda cos: torch.sigmoid(beta + alpha * cos))
                    # dispatch: [M, N, d] products of the cluster features and similarities
                    dispatched = (clusters.unsqueeze(1) * (sim * mask).unsqueeze(-1)).sum(0)
                    out[b, e * d:(e + 1) * d, rows, cols] = dispatched.T.reshape(d, h, w)
                    region = r1 * folds + r2
                    assignment[b, e, rows, cols] = \
                        (mask.argmax(0) + region * p * p).reshape(h, w)
    return out, assignment


def naive_cluster_pool(feats, values, folds=1):
    """FEC's ClusterPool without its convs: ``cluster_pool(..., return_assignment=True)`` for
    any map size."""
    B, c, H, W = feats.shape
    d = values.shape[1]
    # regions of an even size (padding the map up to it), one center per 2x2 window
    hr, wr = math.ceil(H / (2 * folds)) * 2, math.ceil(W / (2 * folds)) * 2
    ch, cw = hr // 2, wr // 2
    out = values.new_zeros(B, d, math.ceil(H / 2), math.ceil(W / 2))
    assignment = torch.zeros(B, 1, H, W, dtype=torch.long)
    for b in range(B):
        for r1 in range(folds):
            for r2 in range(folds):
                top, left = r1 * hr, r2 * wr
                rows, cols = slice(top, min(top + hr, H)), slice(left, min(left + wr, W))
                x, v = feats[b, :, rows, cols], values[b, :, rows, cols]
                if x.numel() == 0:
                    continue
                centers, value_centers, valid = [], [], []
                for i in range(ch):
                    for j in range(cw):
                        window = (slice(top + 2 * i, min(top + 2 * i + 2, H)),
                                  slice(left + 2 * j, min(left + 2 * j + 2, W)))
                        xw = feats[b, :, window[0], window[1]]
                        vw = values[b, :, window[0], window[1]]
                        valid.append(xw.numel() > 0)
                        centers.append(xw.mean((1, 2)) if xw.numel() else x.new_zeros(c))
                        value_centers.append(vw.mean((1, 2)) if vw.numel() else v.new_zeros(d))
                h, w = x.shape[1:]
                clusters, mask, _ = _cluster_region(
                    x.reshape(c, -1).T, v.reshape(d, -1).T, torch.stack(centers),
                    torch.stack(value_centers), torch.tensor(valid), lambda cos: cos)
                for m in range(ch * cw):
                    i, j = r1 * ch + m // cw, r2 * cw + m % cw
                    if valid[m] and i < out.shape[2] and j < out.shape[3]:
                        out[b, :, i, j] = clusters[m]
                region = r1 * folds + r2
                assignment[b, 0, rows, cols] = (mask.argmax(0) + region * ch * cw).reshape(h, w)
    return out, assignment
