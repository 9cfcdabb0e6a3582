"""The MLP half of a clustering block, ``x + drop_path(scale * fc2(gelu(fc1(norm(x)))))`` with
GroupNorm(1), computed in chunks of points with its activations recomputed in backward.

At detection sizes the MLP's activations are the largest tensors of the clustering backbones:
CoC's first stage runs a ratio-8 MLP over the 61k points of an 800x1216 image, so autograd
would keep two ``[61k, 512]`` float32 tensors (fc1's output for GELU's backward and GELU's for
fc2's) per block and image, 250 MB, besides the normed input, and every step of the branch
would be one pass over a map far larger than the cache. ``mlp_residual`` keeps only the
block's input (and two numbers per image) and works on chunks of points that stay in the
cache: the norm's statistics first, then per chunk the norm, fc1, GELU, fc2 and the scaled
residual; in backward it recomputes the norm, fc1 and GELU of each chunk (about a sixth more
of the MLP's products), takes the norm's gradient in a second pass over the chunks, and gets
fc2's and the layer scale's gradients from one accumulated product (``grad^T gelu(fc1(.))``)
without recomputing fc2. Where the hidden activations are small (late stages, small images)
this does not pay and the plain formulation runs (``RECOMPUTE_BYTES``); both give the same
numbers, and the same drop-path draws as mmcv's ``DropPath``.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .tracing import traced_by_any

# A block whose hidden activations would take this many bytes or more is recomputed.
RECOMPUTE_BYTES = 32 * 2**20
# Points per chunk: the chunk's hidden activations (points x hidden) fit the last-level cache.
CHUNK_ELEMENTS = 2**20


def row_chunks(rows: int, width: int, elements: int):
    """``(start, end)`` ranges covering ``rows`` rows, each of about ``elements`` elements of
    rows ``width`` wide (at least one row)."""
    step = max(1, elements // width)
    return [(start, min(start + step, rows)) for start in range(0, rows, step)]


class RecomputedMlpResidual(torch.autograd.Function):
    """``x + keep[:, None, None] * scale * fc2(gelu(fc1(groupnorm1(x))))`` on channels-last
    points ``x``: ``[B, N, C]`` (``keep``: each image's drop-path factor, ``[B]``). Every chunk
    works in the same few buffers (``out=`` and in-place operations): an allocator that returns
    freed memory to the system would otherwise map fresh pages for every chunk."""

    @staticmethod
    def forward(ctx, x, gamma, beta, w1, b1, w2, b2, scale, keep, eps):
        var, mean = torch.var_mean(x.flatten(1), dim=1, correction=0)
        rstd = (var + eps).rsqrt()
        out = torch.empty_like(x)
        chunks = row_chunks(x.shape[1], w1.shape[0], CHUNK_ELEMENTS)
        rows_max = chunks[0][1]
        normed_buf = x.new_empty(rows_max, x.shape[2])
        hidden_buf = x.new_empty(rows_max, w1.shape[0])
        branch_buf = x.new_empty(rows_max, w2.shape[0])
        for b in range(x.shape[0]):
            branch_scale = scale * keep[b]
            for start, end in chunks:
                n = end - start
                rows, normed, hidden = x[b, start:end], normed_buf[:n], hidden_buf[:n]
                torch.sub(rows, mean[b], out=normed).mul_(rstd[b])
                torch.addcmul(beta, normed, gamma, out=normed)
                torch.ops.aten.gelu_(torch.addmm(b1, normed, w1.t(), out=hidden))
                branch = torch.addmm(b2, hidden, w2.t(), out=branch_buf[:n])
                torch.addcmul(rows, branch, branch_scale, out=out[b, start:end])
        ctx.save_for_backward(x, gamma, beta, w1, b1, w2, b2, scale, keep, mean, rstd)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        x, gamma, beta, w1, b1, w2, b2, scale, keep, mean, rstd = ctx.saved_tensors
        grad = grad.contiguous()
        B, N, C = x.shape
        hidden = w1.shape[0]
        grad_x = torch.empty_like(x)
        grad_w1, grad_b1 = torch.zeros_like(w1), torch.zeros_like(b1)
        grad_gamma, grad_beta = torch.zeros_like(gamma), torch.zeros_like(beta)
        # grad^T gelu(fc1(.)) of the branch's output, each image's rows weighted by its keep
        outer = torch.zeros_like(w2)
        chunks = row_chunks(N, hidden, CHUNK_ELEMENTS)
        rows_max = chunks[0][1]
        wide = [x.new_empty(rows_max, hidden) for _ in range(3)]  # pre, gelu, their gradient
        narrow = [x.new_empty(rows_max, C) for _ in range(4)]  # standard, normed, grads
        dropped = not bool((keep == 1).all())  # a drop path in training
        for b in range(B):
            sums = torch.zeros(2, dtype=torch.float64, device=x.device)
            for start, end in chunks:
                n = end - start
                pre, act, grad_wide = (t[:n] for t in wide)
                standard, normed, grad_rows, grad_normed = (t[:n] for t in narrow)
                rows = x[b, start:end]
                torch.sub(rows, mean[b], out=standard).mul_(rstd[b])
                torch.addcmul(beta, standard, gamma, out=normed)
                torch.addmm(b1, normed, w1.t(), out=pre)
                torch.ops.aten.gelu.out(pre, approximate='none', out=act)
                torch.mul(grad[b, start:end], keep[b] if dropped else 1, out=grad_rows)
                outer.addmm_(grad_rows.t(), act)
                torch.mm(grad_rows.mul_(scale), w2, out=grad_wide)
                torch.ops.aten.gelu_backward.grad_input(grad_wide, pre, approximate='none',
                                                         grad_input=act)
                grad_pre = act
                grad_w1.addmm_(grad_pre.t(), normed)
                grad_b1.add_(grad_pre.sum(0))
                torch.mm(grad_pre, w1, out=grad_normed)
                grad_beta.add_(grad_normed.sum(0))
                grad_gamma.add_(normed.copy_(grad_normed).mul_(standard).sum(0))
                grad_standard = grad_normed.mul_(gamma)
                sums += torch.stack([grad_standard.sum(),
                                     normed.copy_(grad_standard).mul_(standard).sum()])
                grad_x[b, start:end] = grad_standard
            # the norm's gradient over the image: rstd * (g - mean(g) - standard * mean(g * s))
            mean_grad, mean_dot = (sums / (N * C)).to(x.dtype).unbind()
            for start, end in chunks:
                standard = narrow[0][:end - start]
                torch.sub(x[b, start:end], mean[b], out=standard).mul_(rstd[b] * mean_dot)
                rows = grad_x[b, start:end]
                rows.sub_(mean_grad).sub_(standard).mul_(rstd[b]).add_(grad[b, start:end])
        grad_sums = (grad * keep[:, None, None] if dropped else grad).sum((0, 1))
        return (grad_x, grad_gamma, grad_beta, grad_w1, grad_b1, scale[:, None] * outer,
                scale * grad_sums, (w2 * outer).sum(1) + b2 * grad_sums, None, None)


def is_group_norm1(norm: nn.Module) -> bool:
    """Whether ``norm`` is a GroupNorm of one group with a weight and bias: the norm that
    ``mlp_residual`` and the mixer's ``GroupedProjection`` compute themselves."""
    return type(norm) is nn.GroupNorm and norm.num_groups == 1 and norm.affine


def mlp_residual(x: torch.Tensor, norm: nn.GroupNorm, fc1: nn.Linear, fc2: nn.Linear,
                 scale: torch.Tensor, drop_path_rate: float = 0.) -> torch.Tensor:
    """``x + drop_path(scale * fc2(gelu(fc1(norm(x)))))`` of an ``[B, C, H, W]`` map (best
    stored channels-last), with ``norm`` a GroupNorm of one group, exact GELU and mmcv's drop
    path; recomputed in chunks where the hidden activations are large (module docstring)."""
    keep = _drop_path_factors(x, drop_path_rate) if drop_path_rate > 0 else None
    B, C, H, W = x.shape
    if (traced_by_any() or not torch.is_grad_enabled() or torch.is_autocast_enabled(x.device.type)
            or B * H * W * fc1.out_features * x.element_size() < RECOMPUTE_BYTES):
        points = norm(x).permute(0, 2, 3, 1)
        branch = fc2(F.gelu(fc1(points))).permute(0, 3, 1, 2)
        if keep is not None:
            branch = branch * keep.view(B, 1, 1, 1)
        return torch.addcmul(x, scale[:, None, None], branch)
    points = x.permute(0, 2, 3, 1).reshape(B, H * W, C)
    keep = x.new_ones(B) if keep is None else keep
    out = RecomputedMlpResidual.apply(points, norm.weight, norm.bias, fc1.weight, fc1.bias,
                                      fc2.weight, fc2.bias, scale, keep, norm.eps)
    return out.view(B, H, W, C).permute(0, 3, 1, 2)


def _drop_path_factors(x: torch.Tensor, rate: float) -> Optional[torch.Tensor]:
    """mmcv's ``drop_path`` as one factor per image, from the same random draws: 0 for a
    dropped image, ``1 / keep`` for a kept one (in training; ones otherwise)."""
    keep = 1 - rate
    return (keep + torch.rand(x.shape[0], dtype=x.dtype, device=x.device)).floor_() / keep
