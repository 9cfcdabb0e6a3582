"""Point-cloud references written plainly, for the tests: furthest-point sampling and kNN by
brute force, the per-group context cluster one group at a time (the official formulation), and
the parameter shapes of the official ``pointMLP`` / ``pointMLP_CoC`` constructors.

Nothing here is shared with ``mmcoc.models.pointcloud``. Do not use it in a model.
"""
from collections import OrderedDict

import torch
import torch.nn.functional as F


def naive_furthest_point_sample(xyz, samples, skip_origin=True):
    """One cloud at a time; each step recomputes every point's distance to every sample taken,
    in float64, and takes the first furthest (index 0 first; never a point with
    ``|p|^2 <= 1e-3`` after it when ``skip_origin``, as the CUDA kernel)."""
    out = torch.zeros(xyz.shape[0], samples, dtype=torch.long)
    for b, cloud in enumerate(xyz.double()):
        taken = [0]
        for _ in range(samples - 1):
            best, best_i = -1.0, 0
            for i, p in enumerate(cloud):
                if skip_origin and float((p.float() ** 2).sum()) <= 1e-3:
                    continue
                d = min(float(((p - cloud[j]) ** 2).sum()) for j in taken)
                if d > best:
                    best, best_i = d, i
            taken.append(best_i)
        out[b] = torch.tensor(taken)
    return out


def naive_knn(xyz, queries, k):
    """The ``k`` nearest points of each query by exact float64 distances, nearest first."""
    dist = ((queries.double()[:, :, None] - xyz.double()[:, None]) ** 2).sum(-1)
    return dist.argsort(-1)[..., :k], dist


def naive_group_context_cluster(module, x, k):
    """What ``GroupContextCluster`` ``module`` computes on rows ``x`` ``[G * k, dim]``, as the
    official ``ContextCluster.forward`` does it, one group and one head at a time."""
    G, E, d = x.shape[0] // k, module.heads, module.head_dim
    out = torch.empty(G, k, E * d, dtype=x.dtype)
    for g in range(G):
        rows = x[g * k:(g + 1) * k]
        feats, values = module.fc1(rows), module.fc_v(rows)  # [k, E * d]
        for e in range(E):
            f, v = feats[:, e * d:(e + 1) * d], values[:, e * d:(e + 1) * d]
            center, value_center = f.mean(0, keepdim=True), v.mean(0, keepdim=True)  # [1, d]
            cos = F.normalize(center, dim=-1) @ F.normalize(f, dim=-1).T  # [1, k]
            sim = torch.sigmoid(module.sim_beta + module.sim_alpha * cos)
            denom = sim.sum() if module.normalizer == 'similarity' else k
            cluster = ((v * sim.T).sum(0, keepdim=True) + value_center) / (denom + 1.0)
            out[g, :, e * d:(e + 1) * d] = cluster * sim.T  # [k, d]
    return x + module.fc2(out.reshape(G * k, E * d))


def official_pointmlp_shapes(num_classes=15, context_cluster=True, embed_dim=64,
                             dim_expansion=(2, 2, 2, 2), pre_blocks=(2, 2, 2, 2),
                             pos_blocks=(2, 2, 2, 2)):
    """Parameter names and shapes of the official ``pointMLP_CoC`` (``pointMLP`` without
    ``context_cluster``) for ScanObjectNN: ``bias=False``, ``use_xyz=False``, anchor
    normalisation, ``res_expansion=1``, ``groups=1``; context clusters with one head of
    ``max(width // 4, 32)`` channels and ``nn.Linear`` maps (with bias)."""
    shapes = OrderedDict()

    def conv_bn(prefix, cin, cout):
        shapes[f'{prefix}.0.weight'] = (cout, cin, 1)
        shapes[f'{prefix}.1.weight'] = shapes[f'{prefix}.1.bias'] = (cout, )

    conv_bn('embedding.net', 3, embed_dim)
    cin = embed_dim
    for i, factor in enumerate(dim_expansion):
        c = cin * factor
        shapes[f'local_grouper_list.{i}.affine_alpha'] = (1, 1, 1, cin)
        shapes[f'local_grouper_list.{i}.affine_beta'] = (1, 1, 1, cin)
        conv_bn(f'pre_blocks_list.{i}.transfer.net', 2 * cin, c)
        j = 0
        for _ in range(pre_blocks[i]):
            if context_cluster:
                hd, p = max(c // 4, 32), f'pre_blocks_list.{i}.operation.{j}'
                shapes[f'{p}.sim_alpha'] = shapes[f'{p}.sim_beta'] = (1, )
                shapes[f'{p}.fc1.weight'], shapes[f'{p}.fc1.bias'] = (hd, c), (hd, )
                shapes[f'{p}.fc2.weight'], shapes[f'{p}.fc2.bias'] = (c, hd), (c, )
                shapes[f'{p}.fc_v.weight'], shapes[f'{p}.fc_v.bias'] = (hd, c), (hd, )
                j += 1
            conv_bn(f'pre_blocks_list.{i}.operation.{j}.net1', c, c)
            conv_bn(f'pre_blocks_list.{i}.operation.{j}.net2', c, c)
            j += 1
        for j in range(pos_blocks[i]):
            conv_bn(f'pos_blocks_list.{i}.operation.{j}.net1', c, c)
            conv_bn(f'pos_blocks_list.{i}.operation.{j}.net2', c, c)
        cin = c
    for index, (fin, fout) in zip((0, 4, 8), ((cin, 512), (512, 256), (256, num_classes))):
        shapes[f'classifier.{index}.weight'], shapes[f'classifier.{index}.bias'] = \
            (fout, fin), (fout, )
        if index < 8:
            shapes[f'classifier.{index + 1}.weight'] = (fout, )
            shapes[f'classifier.{index + 1}.bias'] = (fout, )
    return shapes
