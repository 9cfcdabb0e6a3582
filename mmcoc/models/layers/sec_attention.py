"""SecViT's attention: multi-head attention inside Semantic Equitable Clusters
(``equal_cluster_attention``), with LePE and the official 2D rotary position encoding."""
from typing import Tuple

import torch
import torch.nn as nn

from .assignment import RecordsAssignment
from .equal_clustering import equal_cluster_attention
from .tracing import compiles_without_export


def rotary_tables(height: int, width: int, head_dim: int, device, dtype,
                  base: float = 10000.) -> Tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of 2D rotary position encoding for an ``height x width`` map: ``[N, d]``
    (``compute_rotary_tables``). Under ``torch.compile`` they are one opaque op
    (``torch.ops.mmcoc.rotary_tables``), computed once: inductor would otherwise fuse the
    float64 cosines into every kernel that reads them, recomputing them per batch and head
    (SecViT-T's compiled step was slower than eager)."""
    if compiles_without_export():
        return tuple(torch.ops.mmcoc.rotary_tables(height, width, head_dim, base,
                                                   torch.empty(0, device=device, dtype=dtype)))
    return compute_rotary_tables(height, width, head_dim, device, dtype, base)


def compute_rotary_tables(height: int, width: int, head_dim: int, device, dtype,
                          base: float = 10000.) -> Tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of 2D rotary position encoding for an ``height x width`` map: ``[N, d]``.

    Axial, as the official release: the first half of a head's channels rotates with the row,
    the second half with the column; channel pairs ``(2i, 2i+1)`` rotate by ``position *
    base ** (-i / (quarter - 1))``, ``quarter = d / 4`` (the release's ``1 / base **
    linspace(0, 1, quarter)``). The inverse frequencies come from the release's formula in
    float32, the dtype of its ``RoPE.angle`` buffers; the angles, cosines and sines are computed
    in float64, so that a float64 run agrees with the release's float64 run and a float32 run
    loses no precision at large positions.
    """
    if head_dim % 4:
        raise ValueError(f'2D rotary position encoding needs a head dim divisible by 4, got '
                         f'{head_dim}; choose embed_dims / num_heads accordingly')
    quarter = head_dim // 4
    inv_freq = 1.0 / base ** torch.linspace(0, 1, quarter, device=device, dtype=torch.float32)
    inv_freq = inv_freq.double()
    rows = torch.arange(height, device=device, dtype=torch.float64)[:, None] * inv_freq
    cols = torch.arange(width, device=device, dtype=torch.float64)[:, None] * inv_freq
    angles = torch.cat([rows[:, None, :].expand(height, width, quarter),
                        cols[None, :, :].expand(height, width, quarter)], dim=-1)
    angles = angles.reshape(height * width, head_dim // 2).repeat_interleave(2, dim=-1)
    return angles.cos().to(dtype), angles.sin().to(dtype)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each channel pair ``(x0, x1)`` of ``x`` (``[..., N, d]``) by the tables' angles."""
    pairs = x.unflatten(-1, (-1, 2))
    rotated = torch.stack([-pairs[..., 1], pairs[..., 0]], dim=-1).flatten(-2)
    return x * cos + rotated * sin


class SECAttention(RecordsAssignment, nn.Module):
    """Multi-head attention within Semantic Equitable Clusters, plus LePE, 2D RoPE, projection.

    ``num_clusters == 1`` is global attention. Records its assignment for the visualisation
    (``RecordsAssignment``).
    """

    def __init__(self, dim: int, num_heads: int, num_clusters: int):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'embed dim {dim} does not divide into {num_heads} heads')
        if not isinstance(num_clusters, int) or num_clusters < 1:
            raise ValueError(f'num_clusters must be a positive int (1 = global attention), '
                             f'got {num_clusters!r}')
        self.dim, self.num_heads, self.num_clusters = dim, num_heads, num_clusters
        self.head_dim = dim // num_heads
        if self.head_dim % 4:
            raise ValueError(f'head dim {self.head_dim} (= {dim} / {num_heads} heads) must be '
                             'divisible by 4 for the 2D rotary position encoding')
        self.qkv = nn.Conv2d(dim, dim * 3, 1)
        self.lepe = nn.Conv2d(dim, dim, 5, 1, 2, groups=dim)
        self.out_proj = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor, rotary: Tuple[torch.Tensor, torch.Tensor]):
        B, C, H, W = x.shape
        qkv = self.qkv(x)
        # the convolution keeps its input for backward: a slice would keep all of qkv alive
        lepe = self.lepe(qkv[:, 2 * C:].contiguous())
        # channels are (q|k|v, head, head_dim), the official layout of the qkv weights
        q, k, v = qkv.view(B, 3, self.num_heads, self.head_dim, H * W).permute(1, 0, 2, 4, 3)
        cos, sin = rotary
        # as the release: the equal split ranks the rotated keys (their mean is rotated too),
        # so a token's position takes part in choosing its group
        out = self.run_assigning(equal_cluster_attention, apply_rotary(q, cos, sin),
                                 apply_rotary(k, cos, sin), v, self.num_clusters,
                                 grid=(B, self.num_heads, H, W))
        out = out.transpose(2, 3).reshape(B, C, H, W)
        return self.out_proj(out + lepe)

    def extra_repr(self) -> str:
        return f'heads={self.num_heads}, num_clusters={self.num_clusters}'
