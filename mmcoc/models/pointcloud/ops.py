"""Point-cloud sampling and grouping in plain torch: furthest-point sampling, k nearest
neighbours and row gathering, on CPU and GPU alike (mmcv's and pointnet2's versions are CUDA
only).

``furthest_point_sample`` follows the rules of the CUDA kernel the official PointMLP / CoC code
calls (``pointnet2_ops.furthest_point_sample``): the first sample is always index 0, distances
start at 1e10, and points within ``sqrt(1e-3)`` of the origin are never picked after the first
(the kernel skips them: ``if (mag <= 1e-3) continue``). The result is a deterministic function
of the points and their order. The loop runs over the samples only, each step vectorised over
the batch and the points.
"""
import torch


@torch.no_grad()
def furthest_point_sample(xyz: torch.Tensor, samples: int, skip_origin: bool = True
                          ) -> torch.Tensor:
    """Indices ``[B, samples]`` (long) of furthest-point samples of ``xyz`` ``[B, N, 3]``.

    Each step takes the point furthest (squared Euclidean) from all points taken so far, the
    first of equal ones; ``skip_origin`` leaves out points with ``|p|^2 <= 1e-3`` as the CUDA
    kernel does (where every point is such, index 0 is repeated, as there).
    """
    if xyz.dim() != 3 or xyz.shape[-1] != 3:
        raise ValueError(f'xyz must be [B, N, 3], got {tuple(xyz.shape)}')
    B, N, _ = xyz.shape
    if not 0 < samples <= N:
        raise ValueError(f'cannot sample {samples} of {N} points')
    xyz = xyz.float()
    batch = torch.arange(B, device=xyz.device)
    out = torch.empty(B, samples, dtype=torch.long, device=xyz.device)
    nearest = torch.full((B, N), 1e10, device=xyz.device)
    if skip_origin:
        # never a candidate: min(-1, d) stays -1, below every real distance
        nearest.masked_fill_(xyz.square().sum(-1) <= 1e-3, -1.0)
    last = torch.zeros(B, dtype=torch.long, device=xyz.device)
    for i in range(samples):
        out[:, i] = last
        if i == samples - 1:
            break
        d = (xyz - xyz[batch, last].unsqueeze(1)).square_().sum(-1)
        torch.minimum(nearest, d, out=nearest)
        last = nearest.argmax(-1)
    return out


@torch.no_grad()
def knn_query(xyz: torch.Tensor, queries: torch.Tensor, k: int) -> torch.Tensor:
    """Indices ``[B, S, k]`` (long) of the ``k`` points of ``xyz`` ``[B, N, 3]`` nearest to each
    of ``queries`` ``[B, S, 3]``, nearest first. Squared distances are expanded as
    ``|q|^2 + |p|^2 - 2 q.p`` (one batched matmul, as the official ``square_distance``)."""
    if k > xyz.shape[1]:
        raise ValueError(f'cannot take {k} neighbours of {xyz.shape[1]} points')
    xyz, queries = xyz.float(), queries.float()
    dist = torch.baddbmm(queries.square().sum(-1, keepdim=True), queries, xyz.transpose(1, 2),
                         alpha=-2.0)
    dist += xyz.square().sum(-1).unsqueeze(1)
    return dist.topk(k, dim=-1, largest=False, sorted=True).indices


def gather_points(points: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rows of ``points`` ``[B, N, C]`` at ``index`` ``[B, ...]``: ``[B, ..., C]``."""
    B, N, C = points.shape
    offsets = torch.arange(B, device=index.device).view(B, *([1] * (index.dim() - 1))) * N
    rows = points.reshape(B * N, C).index_select(0, (index + offsets).reshape(-1))
    return rows.view(*index.shape, C)
