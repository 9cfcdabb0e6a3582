"""The Context-Cluster op's assignment, aggregation and dispatch as Triton kernels (CUDA).

``context_cluster`` (``clustering.py``) hands its groups (one per head and region) to these
kernels on a CUDA device where Triton is installed, eagerly (``torch.compile`` and
``torch.export`` trace the PyTorch formulation); on the CPU nothing changes. One program per
group (the region-local part of the op) or per block of its points:

- ``assign``: each point's products with every center of its group and their argmax (that of
  the similarity ``sigmoid(beta + alpha * cos)``, ranked as ``clustering.nearest_center``),
  computed block by block in registers: no ``[groups, points, centers]`` tensor is written
  (the PyTorch path writes one for the argmax).
- ``aggregate_dispatch``: per group, the cluster sums of the member points (one pass over the
  group's values, as one-hot products in registers), the cluster features
  ``(v_center + sum) / (1 + sum(s) or 1 + |cluster|)``, and each point's ``s_n * g_{k(n)}``;
  its backward is one kernel as well (the math of ``clustering.AggregateDispatch.backward``).

The numbers are the PyTorch formulation's up to the order of float32 sums (an argmax within
rounding of a tie may pick the other center, as between any two kernels).
``TRITON_INTERPRET=1`` runs the kernels on CPU tensors (the tests do so); ``fused_clustering
(False)`` turns them off where they would run (the benchmarks' A/B).
"""
import contextlib
import contextvars

import torch

from .tracing import traced_by_any

try:
    import triton
    import triton.language as tl
except ImportError:  # a CPU-only torch comes without Triton
    triton = None

_ENABLED = contextvars.ContextVar('mmcoc_fused_clustering', default=True)
# points per block: the one-hot products need at least 16 rows, columns and depth (tl.dot)
BLOCK_N = 32


@contextlib.contextmanager
def fused_clustering(enabled: bool):
    """Within the block, let ``context_cluster`` use the Triton kernels where it can
    (``True``, the default) or not."""
    token = _ENABLED.set(enabled)
    try:
        yield
    finally:
        _ENABLED.reset(token)


def applies(*tensors: torch.Tensor) -> bool:
    """Whether the fused kernels serve these tensors: Triton installed, CUDA tensors, not
    turned off, run eagerly (torch.compile and torch.export trace the PyTorch formulation, and
    TorchScript's tracing would not record a kernel launch)."""
    return (triton is not None and _ENABLED.get() and not traced_by_any()
            and all(t.is_cuda for t in tensors))


def _block(size: int) -> int:
    return max(16, triton.next_power_of_2(size))


if triton is not None:

    @triton.jit
    def _rows(ptr, g, rows, cols, ROWS, COLS):
        """Rows ``rows`` of group ``g`` of a ``[G, ROWS, COLS]`` tensor, float32, zero outside
        it."""
        return tl.load(ptr + g * ROWS * COLS + rows[:, None] * COLS + cols[None, :],
                       mask=(rows[:, None] < ROWS) & (cols[None, :] < COLS),
                       other=0.).to(tl.float32)

    @triton.jit
    def _store_rows(ptr, value, g, rows, cols, ROWS, COLS):
        tl.store(ptr + g * ROWS * COLS + rows[:, None] * COLS + cols[None, :], value,
                 mask=(rows[:, None] < ROWS) & (cols[None, :] < COLS))

    @triton.jit
    def _members(assign_ptr, s_ptr, g, n, m, N):
        """Points ``n`` of group ``g``: their one-hot assignment ``[BLOCK_N, BLOCK_M]`` (none
        outside the group) and their similarities."""
        k = tl.load(assign_ptr + g * N + n, mask=n < N, other=-1)
        s = tl.load(s_ptr + g * N + n, mask=n < N, other=0.).to(tl.float32)
        return (k[:, None] == m[None, :]).to(tl.float32), s

    @triton.jit
    def _assign_kernel(x_ptr, centers_ptr, alpha_ptr, center_valid_ptr, assign_ptr, N, M, C, R,
                       HAS_VALID: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_M: tl.constexpr,
                       BLOCK_C: tl.constexpr):
        g = tl.program_id(0)
        n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
        m = tl.arange(0, BLOCK_M)
        c = tl.arange(0, BLOCK_C)
        x = _rows(x_ptr, g, n, c, N, C)
        centers = _rows(centers_ptr, g, m, c, M, C)
        dots = tl.dot(x, tl.trans(centers), input_precision='ieee')  # [BLOCK_N, BLOCK_M]
        alpha = tl.load(alpha_ptr).to(tl.float32)
        # the PyTorch path's ranking (clustering.nearest_center): sign(alpha) * dots
        ranked = dots * tl.where(alpha > 0, 1., tl.where(alpha < 0, -1., 0.))
        valid = m < M
        if HAS_VALID:  # a center whose window holds no real point is never chosen
            valid = valid & (tl.load(center_valid_ptr + (g % R) * M + m, mask=m < M,
                                     other=0) != 0)
        ranked = tl.where(valid[None, :], ranked, float('-inf'))
        tl.store(assign_ptr + g * N + n, tl.argmax(ranked, 1, tie_break_left=True),
                 mask=n < N)

    @triton.jit
    def _aggregate_dispatch_kernel(v_ptr, s_ptr, value_centers_ptr, assign_ptr, members_ptr,
                                   out_ptr, clusters_ptr, denom_ptr, N, M, D, R,
                                   WEIGHTED: tl.constexpr, BY_SIMILARITY: tl.constexpr,
                                   HAS_MEMBERS: tl.constexpr, BLOCK_N: tl.constexpr,
                                   BLOCK_M: tl.constexpr, BLOCK_D: tl.constexpr):
        g = tl.program_id(0)
        m = tl.arange(0, BLOCK_M)
        d = tl.arange(0, BLOCK_D)
        numer = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
        denom = tl.zeros([BLOCK_M], tl.float32)
        for start in range(0, N, BLOCK_N):
            n = start + tl.arange(0, BLOCK_N)
            onehot, s = _members(assign_ptr, s_ptr, g, n, m, N)
            v = _rows(v_ptr, g, n, d, N, D)
            if WEIGHTED:
                v = v * s[:, None]
            numer += tl.dot(tl.trans(onehot), v, input_precision='ieee')
            if BY_SIMILARITY:
                denom += tl.sum(onehot * s[:, None], 0)
            else:
                if HAS_MEMBERS:
                    member = tl.load(members_ptr + (g % R) * N + n, mask=n < N,
                                     other=0.).to(tl.float32)
                else:
                    member = (n < N).to(tl.float32)
                denom += tl.sum(onehot * member[:, None], 0)
        denom += 1.
        clusters = (_rows(value_centers_ptr, g, m, d, M, D) + numer) / denom[:, None]
        _store_rows(clusters_ptr, clusters, g, m, d, M, D)
        tl.store(denom_ptr + g * M + m, denom, mask=m < M)
        for start in range(0, N, BLOCK_N):
            n = start + tl.arange(0, BLOCK_N)
            onehot, s = _members(assign_ptr, s_ptr, g, n, m, N)
            out = tl.dot(onehot, clusters, input_precision='ieee') * s[:, None]
            _store_rows(out_ptr, out, g, n, d, N, D)

    @triton.jit
    def _aggregate_dispatch_backward_kernel(grad_ptr, v_ptr, s_ptr, assign_ptr, clusters_ptr,
                                            denom_ptr, grad_v_ptr, grad_s_ptr,
                                            grad_centers_ptr, N, M, D,
                                            WEIGHTED: tl.constexpr,
                                            BY_SIMILARITY: tl.constexpr,
                                            BLOCK_N: tl.constexpr, BLOCK_M: tl.constexpr,
                                            BLOCK_D: tl.constexpr):
        g = tl.program_id(0)
        m = tl.arange(0, BLOCK_M)
        d = tl.arange(0, BLOCK_D)
        grad_clusters = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
        for start in range(0, N, BLOCK_N):
            n = start + tl.arange(0, BLOCK_N)
            onehot, s = _members(assign_ptr, s_ptr, g, n, m, N)
            grad = _rows(grad_ptr, g, n, d, N, D)
            grad_clusters += tl.dot(tl.trans(onehot), grad * s[:, None], input_precision='ieee')
        clusters = _rows(clusters_ptr, g, m, d, M, D)
        denom = tl.load(denom_ptr + g * M + m, mask=m < M, other=1.)
        grad_numer = grad_clusters / denom[:, None]  # = the gradient of the value centers
        _store_rows(grad_centers_ptr, grad_numer, g, m, d, M, D)
        grad_denom = -tl.sum(grad_clusters * clusters, 1) / denom
        for start in range(0, N, BLOCK_N):
            n = start + tl.arange(0, BLOCK_N)
            onehot, s = _members(assign_ptr, s_ptr, g, n, m, N)
            grad = _rows(grad_ptr, g, n, d, N, D)
            grad_s = tl.sum(tl.dot(onehot, clusters, input_precision='ieee') * grad, 1)
            spread = tl.dot(onehot, grad_numer, input_precision='ieee')
            if WEIGHTED:
                grad_s += tl.sum(spread * _rows(v_ptr, g, n, d, N, D), 1)
                spread = spread * s[:, None]
            if BY_SIMILARITY:
                grad_s += tl.sum(onehot * grad_denom[None, :], 1)
            _store_rows(grad_v_ptr, spread, g, n, d, N, D)
            tl.store(grad_s_ptr + g * N + n, grad_s, mask=n < N)


def assign(x: torch.Tensor, centers: torch.Tensor, alpha: torch.Tensor,
           center_valid=None) -> torch.Tensor:
    """Each point's most similar center, ``[G, N]`` (long), as ``clustering.nearest_center``:
    ``x`` ``[G, N, c]`` points, ``centers`` ``[G, M, c]`` (normalised), ``alpha`` the
    similarity's scale (only its sign ranks); ``center_valid`` ``[R, M]``, the centers that may
    be chosen in each of the ``R`` regions (group ``g`` is in region ``g % R``), or None for
    all."""
    G, N, C = x.shape
    M = centers.shape[1]
    x, centers = x.detach().contiguous(), centers.detach().contiguous()
    out = torch.empty(G, N, dtype=torch.int32, device=x.device)
    has_valid = center_valid is not None
    valid = center_valid.reshape(-1, M).to(torch.int8).contiguous() if has_valid else out
    R = valid.shape[0] if has_valid else 1
    _assign_kernel[(G, triton.cdiv(N, BLOCK_N))](
        x, centers, alpha.detach(), valid, out, N, M, C, R,
        HAS_VALID=has_valid, BLOCK_N=BLOCK_N, BLOCK_M=_block(M), BLOCK_C=_block(C))
    return out.long()


class FusedAggregateDispatch(torch.autograd.Function):
    """``clustering.AggregateDispatch`` per group, in the kernels above: ``v`` ``[G, N, d]``,
    ``s`` ``[G, N]``, ``value_centers`` ``[G, M, d]``, ``assignment`` ``[G, N]`` (a center of
    the point's own group); ``members`` ``[R, N]`` (which points count in ``1 + |cluster|``,
    region ``g % R``) or None for all."""

    @staticmethod
    def forward(ctx, v, s, value_centers, assignment, members, weighted, by_similarity):
        G, N, D = v.shape
        M = value_centers.shape[1]
        v, s = v.contiguous(), s.contiguous()
        assignment = assignment.to(torch.int32).contiguous()
        out = torch.empty(G, N, D, dtype=torch.float32, device=v.device)
        clusters = torch.empty(G, M, D, dtype=torch.float32, device=v.device)
        denom = torch.empty(G, M, dtype=torch.float32, device=v.device)
        has_members = members is not None
        member_rows = members.reshape(-1, N).contiguous() if has_members else s
        R = member_rows.shape[0] if has_members else 1
        _aggregate_dispatch_kernel[(G, )](
            v, s, value_centers.contiguous(), assignment, member_rows, out, clusters, denom,
            N, M, D, R, WEIGHTED=weighted, BY_SIMILARITY=by_similarity,
            HAS_MEMBERS=has_members, BLOCK_N=BLOCK_N, BLOCK_M=_block(M), BLOCK_D=_block(D))
        ctx.save_for_backward(v, s, assignment, clusters, denom)
        ctx.flags = (weighted, by_similarity)
        ctx.dtypes = (v.dtype, s.dtype, value_centers.dtype)
        return out.to(v.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        v, s, assignment, clusters, denom = ctx.saved_tensors
        weighted, by_similarity = ctx.flags
        G, N, D = v.shape
        M = clusters.shape[1]
        grad_v = torch.empty(G, N, D, dtype=torch.float32, device=v.device)
        grad_s = torch.empty(G, N, dtype=torch.float32, device=v.device)
        grad_centers = torch.empty(G, M, D, dtype=torch.float32, device=v.device)
        _aggregate_dispatch_backward_kernel[(G, )](
            grad.contiguous(), v, s, assignment, clusters, denom, grad_v, grad_s, grad_centers,
            N, M, D, WEIGHTED=weighted, BY_SIMILARITY=by_similarity, BLOCK_N=BLOCK_N,
            BLOCK_M=_block(M), BLOCK_D=_block(D))
        v_dtype, s_dtype, centers_dtype = ctx.dtypes
        return (grad_v.to(v_dtype), grad_s.to(s_dtype), grad_centers.to(centers_dtype), None,
                None, None, None)


def aggregate_dispatch(v, s, value_centers, assignment, members=None, weighted=True,
                       by_similarity=True) -> torch.Tensor:
    """``[G, N, d]``: ``s_n * g_{k(n)}`` of each point (see ``FusedAggregateDispatch``)."""
    return FusedAggregateDispatch.apply(v, s, value_centers, assignment, members, weighted,
                                        by_similarity)
