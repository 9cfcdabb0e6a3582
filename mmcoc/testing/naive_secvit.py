"""SecViT's attention written from the paper and the facts of the official release, plainly.

The yardstick of ``SECAttention`` in the tests. Facts it encodes (official
``classfication_release/SecViT.py`` since the rotary encoding was added, commit b57a69e):

- the keys are scaled by ``head_dim ** -0.5`` and rotated (2D RoPE on q and k) *before* the
  tokens are ranked, so the equal split ranks the rotated keys against their mean;
- the rotary inverse frequencies are ``1 / 10000 ** linspace(0, 1, head_dim / 4)`` (exponent
  ``i / (quarter - 1)``), a float32 buffer in the release; the first half of a head's channels
  rotates with the row, the second half with the column, channel pairs ``(2i, 2i + 1)``.

Rotations are complex multiplications here and the groups a Python loop: nothing is shared with
the fast path (``mmcoc.models.backbones.secvit``). Do not use it in a model.
"""
import torch
import torch.nn.functional as F


def naive_inverse_frequencies(head_dim: int) -> torch.Tensor:
    """The release's rotary inverse frequencies, float32 as its ``RoPE.angle`` buffer holds them:
    ``[head_dim / 4]``."""
    quarter = head_dim // 4
    return 1.0 / 10000 ** torch.linspace(0, 1, quarter)


def naive_rotary_angles(height: int, width: int, head_dim: int) -> torch.Tensor:
    """``[height * width, head_dim / 2]`` float64 angles, one per channel pair: row angles in
    the first half, column angles in the second."""
    inv_freq = naive_inverse_frequencies(head_dim).double()
    angles = torch.empty(height * width, head_dim // 2, dtype=torch.float64)
    for r in range(height):
        for c in range(width):
            angles[r * width + c] = torch.cat([r * inv_freq, c * inv_freq])
    return angles


def naive_rotate(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate the channel pairs of ``x`` ``[..., N, d]`` as complex numbers by ``angles``."""
    pairs = torch.view_as_complex(x.double().unflatten(-1, (-1, 2)).contiguous())
    rotated = pairs * torch.polar(torch.ones_like(angles), angles)
    return torch.view_as_real(rotated).flatten(-2).to(x.dtype)


def naive_sec_attention(attn, x: torch.Tensor) -> torch.Tensor:
    """What ``attn`` (a ``SECAttention``: its ``qkv``, ``lepe``, ``out_proj``, ``num_heads``,
    ``num_clusters``) computes on ``x`` ``[B, C, H, W]``, for a token count divisible by the
    cluster count."""
    B, C, H, W = x.shape
    E, K = attn.num_heads, attn.num_clusters
    d, N = C // E, H * W
    assert N % K == 0, 'the naive formulation needs a token count divisible by the clusters'
    qkv = attn.qkv(x)
    lepe = attn.lepe(qkv[:, 2 * C:])
    q, k, v = (t.reshape(B, E, d, N).transpose(2, 3) for t in qkv.split(C, dim=1))
    angles = naive_rotary_angles(H, W, d)
    q = naive_rotate(q, angles)
    k = naive_rotate(k * d ** -0.5, angles)
    out = torch.zeros_like(v)
    L = N // K
    for b in range(B):
        for e in range(E):
            # rank the rotated keys by cosine similarity to their mean
            mean = k[b, e].mean(0)
            sims = F.cosine_similarity(k[b, e], mean[None], dim=-1)
            order = torch.argsort(sims.detach(), stable=True)
            for g in range(K):
                members = order[g * L:(g + 1) * L]
                weights = torch.softmax(q[b, e, members] @ k[b, e, members].T, dim=-1)
                out[b, e, members] = weights @ v[b, e, members]
    out = out.transpose(2, 3).reshape(B, C, H, W)
    return attn.out_proj(out + lepe)
