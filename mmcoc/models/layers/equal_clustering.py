"""Semantic Equitable Clustering (SEC, "SecViT", Fan et al. 2024): attention inside clusters of
equal size formed in one pass.

Per head, the mean of the keys is a global token; every key's cosine similarity to it ranks the
tokens; the ranked sequence is cut into ``num_clusters`` consecutive groups of the same size
``L``; softmax attention runs inside each group; the outputs go back to the original order.
Sorting replaces iterative clustering and makes every group the same size, so all groups go
through one batched attention call. The keys ranked are the ones the attention uses: in SecViT
(and its official release since the rotary encoding was added, commit b57a69e of
qhfan/SecViT) they are scaled and rotated before the ranking, so position takes part in it.

Any token count is accepted. The reference code asserts that ``N`` divides by the cluster
count; here the ranked sequence is padded to ``num_clusters * L`` tokens with
``L = ceil(N / num_clusters)``, the padding ranked last, and an attention mask keeps every
padding key out of every real token's attention (a padding query attends to its whole group,
so no row is fully masked and nothing is NaN; its output is dropped). The real tokens of the
last group attend among themselves, and for a divisible ``N`` the computation is exactly the
reference's, without padding or mask (unless ``N`` is symbolic, under ``torch.compile`` with
dynamic shapes or ``torch.export``, and not provably divisible: the masked path then serves
every token count in one graph).
"""
from typing import Optional

import torch
import torch.nn.functional as F

from .tracing import (
    compiles_without_export,
    exports_custom_ops,
    known_zero,
    records_autograd_function,
)


def _check_tokens(name: str, x: torch.Tensor):
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f'{name} must be a [batch, heads, tokens, dim] tensor, got {shape}')


def cluster_group_size(num_tokens: int, num_clusters: int) -> int:
    """Tokens per group: ``ceil(num_tokens / num_clusters)`` (num_tokens >= 1)."""
    return (num_tokens + num_clusters - 1) // num_clusters


def equal_cluster_order(keys: torch.Tensor) -> torch.Tensor:
    """Token indices ranked by cosine similarity to the mean key, ascending: ``[B, E, N]``.

    ``keys``: ``[B, E, N, d]``. The sort is stable, so equal similarities keep token order.
    The ranking is not differentiable (as an argsort); gradients flow through what is gathered
    with it.
    """
    _check_tokens('keys', keys)
    with torch.no_grad():
        center = F.normalize(keys.mean(dim=2, keepdim=True), dim=-1)  # [B, E, 1, d]
        similarity = (F.normalize(keys, dim=-1) * center).sum(-1)  # [B, E, N]
        return torch.argsort(similarity, dim=-1, stable=True)


class GatheredRows(torch.autograd.Function):
    """The rows of ``x`` (``[rows, d]``) that ``index`` picks, each source row at most once;
    ``inverse[i]`` is where row ``i`` went (with ``unpicked``, counted from 1, and 0 for a row
    never picked). The gradient is then a gather by ``inverse`` (from the gradient after a
    zero row, with ``unpicked``); autograd's own (an ``index_add`` into zeros) is a scatter, which
    torch.compile turns into an atomic, unvectorised loop on a CPU: SecViT-T's compiled step
    was 0.69x its eager one."""

    @staticmethod
    def forward(ctx, x, index, inverse, unpicked: bool):
        ctx.save_for_backward(inverse)
        ctx.unpicked = unpicked
        return _select_rows(x, index)

    @staticmethod
    def backward(ctx, grad):
        (inverse, ) = ctx.saved_tensors
        if ctx.unpicked:
            grad = torch.cat([grad.new_zeros(1, grad.shape[1]), grad])
        return _select_rows(grad, inverse), None, None, None


def _select_rows(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    if compiles_without_export():
        return torch.ops.mmcoc.select_rows(x, index)  # opaque to inductor: see custom_ops
    return x.index_select(0, index)


def gather_rows(x: torch.Tensor, index: torch.Tensor, inverse: torch.Tensor,
                unpicked: bool = False) -> torch.Tensor:
    """``x.index_select(0, index)`` for an ``index`` that picks no row twice, ``inverse`` as
    ``GatheredRows`` takes it (``unpicked``: some rows are not picked); its gradient is a
    gather where autograd records."""
    if records_autograd_function(x):
        return GatheredRows.apply(x, index, inverse, unpicked)
    return x.index_select(0, index)


def equal_cluster_attention(q: torch.Tensor,
                            k: torch.Tensor,
                            v: torch.Tensor,
                            num_clusters: int,
                            scale: Optional[float] = None,
                            return_assignment: bool = False):
    """Softmax attention within equal-size semantic clusters.

    Args:
        q, k, v: ``[B, heads, N, d]`` queries, keys, values (``v`` may have its own ``d``).
        num_clusters: groups per head; ``1`` is global attention over all ``N`` tokens.
        scale: attention logit scale; default ``d ** -0.5``.
        return_assignment: also return each token's group index, ``[B, heads, N]`` (long).

    Returns:
        ``[B, heads, N, d_v]`` in the original token order (and the assignment when asked for).
    """
    if exports_custom_ops() and not return_assignment:
        return torch.ops.mmcoc.equal_cluster_attention(q, k, v, num_clusters, scale)
    for name, x in (('q', q), ('k', k), ('v', v)):
        _check_tokens(name, x)
    if q.shape != k.shape or v.shape[:3] != q.shape[:3]:
        raise ValueError('q and k must have the same shape and v the same batch, heads and '
                         f'tokens; got q {tuple(q.shape)}, k {tuple(k.shape)}, '
                         f'v {tuple(v.shape)}')
    if not isinstance(num_clusters, int) or num_clusters < 1:
        raise ValueError(f'num_clusters must be a positive int, got {num_clusters!r}')
    B, E, N, _ = q.shape
    if num_clusters == 1:
        # one group: attention is permutation-equivariant, so no sorting is needed
        out = F.scaled_dot_product_attention(q, k, v, scale=scale)
        if return_assignment:
            return out, torch.zeros(B, E, N, dtype=torch.long, device=q.device)
        return out

    L = cluster_group_size(N, num_clusters)
    order = equal_cluster_order(k)
    ranks = torch.empty_like(order).scatter_(
        2, order, torch.arange(N, device=q.device).expand(B, E, N))
    # rows of [B * E * N, d]: index_select of whole rows is several times faster on a CPU
    # than gather with an index expanded over d; `rows` ranks the tokens, `token_rows` (its
    # inverse) puts them back
    groups = torch.arange(B * E, device=q.device).view(B, E, 1)
    rows, token_rows = (order + groups * N).reshape(-1), (ranks + groups * N).reshape(-1)
    q_s, k_s, v_s = (gather_rows(x.reshape(B * E * N, x.shape[-1]), rows, token_rows)
                     .view(B, E, N, x.shape[-1]) for x in (q, k, v))
    padded = num_clusters * L  # ranked tokens and padding
    mask = None
    if not known_zero(padded - N):
        q_s, k_s, v_s = (F.pad(x, (0, 0, 0, padded - N)) for x in (q_s, k_s, v_s))
        real = (torch.arange(padded, device=q.device) < N).view(num_clusters, L)
        # [groups, query, key]: True where the key takes part; padding queries see all keys
        mask = real[:, None, :] | ~real[:, :, None]
    grouped = [x.reshape(B * E, num_clusters, L, x.shape[-1]) for x in (q_s, k_s, v_s)]
    out_sorted = F.scaled_dot_product_attention(*grouped, attn_mask=mask, scale=scale)
    # back to token order: each token's row is its rank's; the padding rows are never read
    back = (ranks + groups * padded).reshape(-1)
    unpicked, sources = mask is not None, rows
    if unpicked:  # (a pad value of 0, not B * E * N: a symbolic batch stays symbolic)
        sources = F.pad(rows.view(B, E, N) + 1, (0, padded - N)).reshape(-1)
    out = gather_rows(out_sorted.reshape(B * E * padded, v.shape[-1]), back, sources, unpicked)
    out = out.view(B, E, N, v.shape[-1])
    if not return_assignment:
        return out
    return out, ranks // L
