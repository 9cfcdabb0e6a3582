"""The clustering ops as opaque custom ops (``torch.ops.mmcoc.*``) for ``torch.export``
(inference): while it traces, each op enters the graph as one call (``tracing.exports_custom_ops``),
run eagerly by the exported program, so its shape-dependent Python puts no guard on the dynamic
height and width. The fake (meta) implementations give the output shapes. Registered when
``mmcoc.models.layers`` is imported. Also SecViT's rotary tables for ``torch.compile``
(``sec_attention.rotary_tables``): one op computed once instead of cosines inlined everywhere;
and the row gathers of SecViT's clustering (``select_rows``) under ``torch.compile``."""
from typing import List, Optional

import torch

from .cluster_pooling import cluster_pool
from .clustering import context_cluster
from .equal_clustering import equal_cluster_attention
from .sec_attention import compute_rotary_tables


@torch.library.custom_op('mmcoc::context_cluster', mutates_args=())
def _context_cluster_op(feats: torch.Tensor, values: torch.Tensor, alpha: torch.Tensor,
                        beta: torch.Tensor, heads: int, proposals: int, folds: int,
                        normalizer: str, weighting: str) -> torch.Tensor:
    """``context_cluster`` as one opaque op for ``torch.export`` (inference)."""
    return context_cluster(feats, values, alpha, beta, heads, proposals, folds, normalizer,
                           weighting=weighting).contiguous()


@_context_cluster_op.register_fake
def _(feats, values, alpha, beta, heads, proposals, folds, normalizer, weighting):
    return values.new_empty(values.shape)


@torch.library.custom_op('mmcoc::cluster_pool', mutates_args=())
def _cluster_pool_op(feats: torch.Tensor, values: torch.Tensor, folds: int) -> torch.Tensor:
    """``cluster_pool`` as one opaque op for ``torch.export`` (inference)."""
    return cluster_pool(feats, values, folds).contiguous()


@_cluster_pool_op.register_fake
def _(feats, values, folds):
    B, d, H, W = values.shape
    # as the stride-2 skip conv beside it computes its size
    return values.new_empty(B, d, (H - 1) // 2 + 1, (W - 1) // 2 + 1)


@torch.library.custom_op('mmcoc::equal_cluster_attention', mutates_args=())
def _equal_cluster_attention_op(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                num_clusters: int, scale: Optional[float]) -> torch.Tensor:
    """``equal_cluster_attention`` as one opaque op for ``torch.export`` (inference)."""
    return equal_cluster_attention(q, k, v, num_clusters, scale).contiguous()


@_equal_cluster_attention_op.register_fake
def _(q, k, v, num_clusters, scale):
    return v.new_empty(v.shape)


@torch.library.custom_op('mmcoc::rotary_tables', mutates_args=())
def _rotary_tables_op(height: int, width: int, head_dim: int, base: float,
                      like: torch.Tensor) -> List[torch.Tensor]:
    """``compute_rotary_tables`` on ``like``'s device and dtype (``like`` holds no data)."""
    return list(compute_rotary_tables(height, width, head_dim, like.device, like.dtype, base))


@_rotary_tables_op.register_fake
def _(height, width, head_dim, base, like):
    return [like.new_empty(height * width, head_dim) for _ in range(2)]


@torch.library.custom_op('mmcoc::select_rows', mutates_args=())
def _select_rows_op(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``x.index_select(0, index)`` as one opaque op: ``equal_clustering.GatheredRows`` under
    ``torch.compile``. Inductor would fuse the gather into the rotary encoding's and the
    layout's kernels around it (their backward too), as loads whose indices it recomputes per
    element, unvectorised: on a CPU those kernels took a quarter of SecViT-T's compiled step."""
    return x.index_select(0, index)


@_select_rows_op.register_fake
def _(x, index):
    return x.new_empty(index.shape[0], *x.shape[1:])
