import math
import warnings

import pytest
import torch
import torch.nn.functional as F

from mmcoc.models.layers import ContextClusterMixer, context_cluster
from mmcoc.models.layers.clustering import (
    GROUPED_PROJECTION_MIN_POINTS,
    distinct_windows,
    nearest_center,
    window_averages,
)
from mmcoc.testing import naive_context_cluster

# heads, proposals, folds, H, W, normalizer
DIVISIBLE_CASES = [
    (4, 2, 8, 16, 24, 'similarity'),
    (2, 5, 2, 10, 14, 'count'),
    (3, 7, 1, 9, 13, 'similarity'),  # odd size, no folds: adaptive pooling bins overlap
    (1, 3, 4, 12, 20, 'count'),
    (8, 2, 1, 7, 7, 'similarity'),
    (2, 4, 2, 6, 10, 'similarity'),  # more centers per side than points per region side
]


def make_inputs(heads, H, W, dtype, batch=2, c=6, d=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    feats = torch.randn(batch, heads * c, H, W, generator=gen, dtype=dtype)
    values = torch.randn(batch, heads * d, H, W, generator=gen, dtype=dtype)
    alpha = torch.tensor([1.3], dtype=dtype)
    beta = torch.tensor([-0.4], dtype=dtype)
    return [t.requires_grad_() for t in (feats, values, alpha, beta)]


def outputs_and_grads(fn, inputs, *args):
    out = fn(*inputs, *args)
    upstream = torch.randn(out.shape, generator=torch.Generator().manual_seed(1),
                           dtype=out.dtype)
    grads = torch.autograd.grad((out * upstream).sum(), inputs)
    return out, grads


@pytest.mark.parametrize('heads,proposals,folds,H,W,normalizer', DIVISIBLE_CASES)
@pytest.mark.parametrize('dtype', [torch.float64, torch.float32])
def test_fast_op_matches_naive(heads, proposals, folds, H, W, normalizer, dtype):
    inputs = make_inputs(heads, H, W, dtype)
    args = (heads, proposals, folds, normalizer)
    fast, fast_grads = outputs_and_grads(context_cluster, inputs, *args)
    naive, naive_grads = outputs_and_grads(naive_context_cluster, inputs, *args)
    assert fast.shape == naive.shape == (2, heads * 5, H, W)
    assert (fast - naive).abs().max() < 1e-5
    for name, a, b in zip(('feats', 'values', 'alpha', 'beta'), fast_grads, naive_grads):
        # alpha/beta gradients are sums over every point; compare them relative to their size
        scale = 1.0 if name in ('feats', 'values') else max(1.0, b.abs().max().item())
        assert (a - b).abs().max() / scale < 1e-5, name


@pytest.mark.parametrize('alpha', [-0.8, 0.0])
def test_fast_op_matches_naive_at_any_sign_of_alpha(alpha):
    # alpha < 0 makes the most similar center the one of least cosine; alpha = 0 ties them all
    feats, values, _, beta = make_inputs(2, 12, 10, torch.float64)
    inputs = [feats, values, torch.tensor([alpha], dtype=torch.float64).requires_grad_(), beta]
    args = (2, 3, 2, 'similarity')
    fast, fast_grads = outputs_and_grads(context_cluster, inputs, *args)
    naive, naive_grads = outputs_and_grads(naive_context_cluster, inputs, *args)
    assert (fast - naive).abs().max() < 1e-10
    for a, b in zip(fast_grads, naive_grads):
        assert (a - b).abs().max() < 1e-9
    if alpha == 0.0:  # the first center of each region
        _, assignment = context_cluster(*inputs, *args, return_assignment=True)
        assert assignment.remainder(9).eq(0).all()


def test_assignment_is_not_decided_by_the_rounding_of_the_sigmoid():
    # Products one float32 step apart: the sigmoid rounds both to the same value, so an argmax
    # taken after it returns the first; the center really most similar is the second.
    low = torch.tensor(0.5)
    dots = torch.stack([low, torch.nextafter(low, torch.tensor(1.0))]).view(1, 1, 2)
    alpha = torch.ones(1)
    sim = torch.sigmoid(dots * alpha)
    assert sim[0, 0, 0] == sim[0, 0, 1] and sim.argmax(-1).item() == 0
    assert nearest_center(dots, alpha).item() == 1
    assert nearest_center(dots, -alpha).item() == 0
    valid = torch.tensor([True, False]).view(1, 1, 1, 2)
    assert nearest_center(dots, alpha, valid).item() == 0


@pytest.mark.parametrize('alpha', [1.5, -0.5, 0.0])
def test_the_ranking_leaves_the_products_as_they_are(alpha):
    torch.manual_seed(0)
    dots = torch.randn(6, 40, 9)
    dots[0, 0, 3] = dots[0, 0, 5] = dots[0, 0].max() + 1  # a tie: the first wins
    valid = torch.rand(1, 3, 1, 9) > 0.3
    valid[..., 0] = True
    kept = dots.clone()
    alpha = torch.tensor([alpha])
    for center_valid in (None, valid):
        ranked = dots * alpha.sign()
        if center_valid is not None:
            ranked.view(2, 3, 40, 9).masked_fill_(~center_valid, -math.inf)
        assert torch.equal(nearest_center(dots, alpha, center_valid), ranked.argmax(-1))
        assert torch.equal(dots, kept)


def test_a_traced_op_ranks_by_the_sign_of_the_alpha_it_is_given():
    # Eagerly the products are ranked as they are for alpha > 0; a traced graph must not keep
    # that branch of the alpha it was traced with.
    torch.manual_seed(0)
    feats, values = torch.randn(1, 8, 6, 6), torch.randn(1, 8, 6, 6)
    beta = torch.zeros(1)

    def op(feats, values, alpha):
        return context_cluster(feats, values, alpha, beta, 2, 2, 1)

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore', torch.jit.TracerWarning)  # (the size checks')
        traced = torch.jit.trace(op, (feats, values, torch.ones(1)))
        for alpha in (torch.ones(1), -torch.ones(1)):
            torch.testing.assert_close(traced(feats, values, alpha), op(feats, values, alpha))


@pytest.mark.parametrize('h,w,proposals', [(6, 3, 7), (2, 9, 4), (5, 5, 5), (16, 12, 7)])
def test_distinct_windows_rule_out_exactly_the_repeated_windows(h, w, proposals):
    windows = window_averages(h, w, proposals, 'cpu', torch.float64)
    distinct = distinct_windows(h, w, proposals, 'cpu')
    repeated = [any(torch.equal(windows[m], windows[k]) for k in range(m))
                for m in range(len(windows))]
    assert distinct.tolist() == [not r for r in repeated]
    assert distinct.all() == (h >= proposals and w >= proposals)


def test_hard_assignment_and_cluster_formula_by_hand():
    # One region, two centers (left and right halves pooled), a 1x4 map, 1 head, 1 channel.
    feats = torch.tensor([[[[1., 2., -1., -3.]]]])
    values = torch.tensor([[[[10., 20., 30., 40.]]]])
    alpha, beta = torch.ones(1), torch.zeros(1)
    out, assignment = context_cluster(feats, values, alpha, beta, 1, proposals=2, folds=1,
                                      return_assignment=True)
    # Pooling a 1x4 map to 2x2 gives centers 1.5, -2 (top) and the same again (bottom); a
    # 1-channel cosine is the sign, so positive points pick center 0 (the first of two equal
    # maxima, as torch.max) and negative ones center 1.
    s = torch.sigmoid(torch.tensor(1.0))
    assert assignment.flatten().tolist() == [0, 0, 1, 1]
    left = (15. + s * 10 + s * 20) / (1 + 2 * s)
    right = (35. + s * 30 + s * 40) / (1 + 2 * s)
    expected = torch.stack([left * s, left * s, right * s, right * s])
    assert torch.allclose(out.flatten(), expected)


def ragged_naive(feats, values, alpha, beta, heads, proposals, folds, normalizer):
    """Literal per-region loops over the real points of a map that does not divide by folds.

    Regions and pooling bins are laid out on the map padded up to a multiple of ``folds`` (as
    documented for the fast op) but every average and sum runs over real points only.
    """
    B, C, H, W = feats.shape
    h, w = math.ceil(H / folds), math.ceil(W / folds)
    c, d = C // heads, values.shape[1] // heads
    out = torch.zeros(B, heads * d, H, W, dtype=feats.dtype)
    bins = [(math.floor(i * h / proposals), math.ceil((i + 1) * h / proposals))
            for i in range(proposals)]
    wbins = [(math.floor(j * w / proposals), math.ceil((j + 1) * w / proposals))
             for j in range(proposals)]
    for b in range(B):
        for e in range(heads):
            x = feats[b, e * c:(e + 1) * c]
            v = values[b, e * d:(e + 1) * d]
            for r in range(folds):
                for q in range(folds):
                    r0, q0 = r * h, q * w
                    points = [(i, j) for i in range(r0, min(r0 + h, H))
                              for j in range(q0, min(q0 + w, W))]
                    if not points:
                        continue
                    centers, vcenters = [], []
                    for (a0, a1) in bins:
                        for (b0, b1) in wbins:
                            cell = [(i, j) for (i, j) in points
                                    if r0 + a0 <= i < r0 + a1 and q0 + b0 <= j < q0 + b1]
                            if cell:
                                centers.append(torch.stack([x[:, i, j] for i, j in cell]).mean(0))
                                vcenters.append(torch.stack([v[:, i, j] for i, j in cell]).mean(0))
                    cen = F.normalize(torch.stack(centers), dim=-1)
                    pts = F.normalize(torch.stack([x[:, i, j] for i, j in points]), dim=-1)
                    sim = torch.sigmoid(beta + alpha * cen @ pts.T)  # [M, N]
                    best = sim.argmax(0)
                    for m in range(len(centers)):
                        members = [n for n in range(len(points)) if best[n] == m]
                        if not members:
                            continue
                        s = sim[m, members]
                        vs = torch.stack([v[:, points[n][0], points[n][1]] for n in members])
                        den = s.sum() if normalizer == 'similarity' else float(len(members))
                        g = (vcenters[m] + (s[:, None] * vs).sum(0)) / (den + 1)
                        for k, n in enumerate(members):
                            i, j = points[n]
                            out[b, e * d:(e + 1) * d, i, j] = g * s[k]
    return out


@pytest.mark.parametrize('heads,proposals,folds,H,W,normalizer', [
    (2, 2, 4, 7, 10, 'similarity'),
    (1, 3, 2, 5, 9, 'count'),
    (2, 2, 8, 3, 5, 'similarity'),  # smaller than the folds: most regions are all padding
    (1, 5, 2, 11, 6, 'similarity'),
])
def test_padding_never_joins_or_shifts_a_cluster(heads, proposals, folds, H, W, normalizer):
    inputs = make_inputs(heads, H, W, torch.float64, batch=1, c=3, d=2)
    args = (heads, proposals, folds, normalizer)
    fast, fast_grads = outputs_and_grads(context_cluster, inputs, *args)
    ragged, ragged_grads = outputs_and_grads(ragged_naive, inputs, *args)
    assert torch.isfinite(fast).all()
    assert (fast - ragged).abs().max() < 1e-10
    for a, b in zip(fast_grads, ragged_grads):
        assert (a - b).abs().max() < 1e-10


def test_divisible_sizes_are_not_padded(monkeypatch):
    calls = []
    real_pad = F.pad
    monkeypatch.setattr(F, 'pad', lambda *a, **k: calls.append(1) or real_pad(*a, **k))
    context_cluster(*make_inputs(2, 8, 16, torch.float32), 2, 2, 4)
    assert not calls
    context_cluster(*make_inputs(2, 9, 16, torch.float32), 2, 2, 4)
    assert calls


def test_backward_keeps_no_tensor_of_the_points_by_centers_size():
    # 49 centers, 6 channels a head: the [groups, points, centers] products (the argmax's) are
    # the largest tensor the op forms and must be freed after forward, not kept for backward
    heads, c, proposals, H, W = 2, 6, 7, 14, 14
    inputs = make_inputs(heads, H, W, torch.float32, c=c)
    groups_points = 2 * heads * H * W
    kept = []

    def pack(t):  # the memory kept: a broadcast view (the pooling windows) counts once
        kept.append(t.untyped_storage().nbytes() // t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = context_cluster(*inputs, heads, proposals, 1)
    assert max(kept) < groups_points * proposals ** 2, (max(kept), groups_points)
    assert max(kept) >= groups_points * c  # the points themselves are kept
    grads = torch.autograd.grad(out.sum(), inputs[:2])
    assert all(torch.isfinite(g).all() for g in grads)


def test_zero_features_give_finite_results():
    inputs = make_inputs(2, 8, 8, torch.float32)
    with torch.no_grad():
        inputs[0].zero_()  # cosine similarity of zero vectors
    out, grads = outputs_and_grads(context_cluster, inputs, 2, 2, 2)
    assert torch.isfinite(out).all()
    assert all(torch.isfinite(g).all() for g in grads)


def test_assignment_numbers_regions_then_centers():
    inputs = make_inputs(2, 8, 8, torch.float32)
    _, assignment = context_cluster(*inputs, 2, 2, 2, return_assignment=True)
    assert assignment.shape == (2, 2, 8, 8)
    # region (r, q) owns center ids [4 * (2r + q), 4 * (2r + q) + 4)
    region_of = (torch.arange(8) // 4)[:, None] * 2 + (torch.arange(8) // 4)[None, :]
    assert ((assignment // 4) == region_of).all()


def test_mixer_records_assignment_only_when_asked():
    mixer = ContextClusterMixer(16, heads=2, head_dim=4, proposals=2, folds=2)
    x = torch.randn(1, 16, 8, 8)
    assert mixer(x).shape == x.shape and mixer.last_assignment is None
    mixer.keep_assignment = True
    mixer(x)
    assert mixer.last_assignment.shape == (1, 2, 8, 8)


@pytest.mark.parametrize('kwargs,message', [
    (dict(normalizer='mean'), 'normalizer'),
    (dict(folds=0), 'folds'),
    (dict(proposals=2.5), 'proposals'),
])
def test_mixer_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ContextClusterMixer(16, **kwargs)


def test_op_rejects_channels_that_do_not_split_into_heads():
    feats, values, alpha, beta = make_inputs(1, 8, 8, torch.float32, c=5)
    with pytest.raises(ValueError, match='heads'):
        context_cluster(feats, values, alpha, beta, 2, 2, 1)


def pre_norm_half(mixer, norm, scale, x):
    """``x + scale * proj(cluster(f(norm(x)), v(norm(x))))``, one module at a time: the
    modules' own convolutions and GroupNorm, the naive op (the fast one where the naive
    formulation has no counterpart: a padded map, FEC's plain weighting)."""
    normed = norm(x)
    args = (mixer.f(normed), mixer.v(normed), mixer.sim_alpha, mixer.sim_beta, mixer.heads,
            mixer.proposals, mixer.folds, mixer.normalizer)
    divisible = x.shape[2] % mixer.folds == 0 and x.shape[3] % mixer.folds == 0
    if divisible and mixer.weighting == 'similarity':
        out = naive_context_cluster(*args)
    else:
        out = context_cluster(*args, weighting=mixer.weighting)
    return x + scale[:, None, None] * mixer.proj(out)


# batch, channels, H, W, heads, head_dim, proposals, folds, normalizer, weighting
PRE_NORM_CASES = [
    (2, 16, 16, 24, 4, 8, 2, 4, 'similarity', 'similarity'),
    (3, 8, 16, 18, 2, 4, 3, 2, 'count', 'similarity'),
    (1, 12, 16, 16, 2, 6, 2, 1, 'count', 'plain'),  # FEC's aggregation, one region
    (2, 8, 17, 24, 2, 4, 2, 2, 'similarity', 'similarity'),  # padded: the plain products
    (2, 8, 8, 12, 2, 4, 2, 2, 'similarity', 'similarity'),  # small: the plain products
]


@pytest.mark.parametrize('B,C,H,W,heads,head_dim,proposals,folds,normalizer,weighting',
                         PRE_NORM_CASES)
def test_mixer_runs_a_blocks_norm_scale_and_residual_as_the_modules_do(
        B, C, H, W, heads, head_dim, proposals, folds, normalizer, weighting):
    # the grouped projections (GroupNorm, f and v written into the op's groups) and proj's
    # product with the layer scale and the residual folded in, against the modules one by one
    torch.manual_seed(0)
    mixer = ContextClusterMixer(C, heads=heads, head_dim=head_dim, proposals=proposals,
                                folds=folds, normalizer=normalizer, weighting=weighting).double()
    norm = torch.nn.GroupNorm(1, C).double()
    scale = torch.nn.Parameter(torch.randn(C, dtype=torch.float64))
    with torch.no_grad():
        mixer.sim_alpha.fill_(0.7)
        mixer.sim_beta.fill_(0.1)
        norm.weight.normal_()
        norm.bias.normal_()
    # an offset and a spread of their own: the norm's statistics matter
    x = (3 + 2 * torch.randn(B, C, H, W, dtype=torch.float64)).contiguous(
        memory_format=torch.channels_last).requires_grad_()
    grouped = H % folds == 0 and W % folds == 0 and H * W >= GROUPED_PROJECTION_MIN_POINTS
    assert mixer._projects_to_groups(x) == grouped
    inputs = [x, scale, *norm.parameters(), *mixer.parameters()]
    upstream = torch.randn(B, C, H, W, dtype=torch.float64)
    fused = mixer(x, norm=norm, scale=scale)
    fused_grads = torch.autograd.grad((fused * upstream).sum(), inputs)
    plain = pre_norm_half(mixer, norm, scale, x)
    plain_grads = torch.autograd.grad((plain * upstream).sum(), inputs)
    assert (fused - plain).abs().max() < 1e-12
    for a, b in zip(fused_grads, plain_grads):
        assert (a - b).abs().max() / max(1.0, b.abs().max().item()) < 1e-12
    # without the norm and the residual, the grouped projections alone
    alone, = torch.autograd.grad((mixer(x) * upstream).sum(), x)
    normed = x.detach().requires_grad_()
    out = pre_norm_half(mixer, torch.nn.Identity(), torch.ones(C, dtype=torch.float64), normed)
    expected, = torch.autograd.grad(((out - normed) * upstream).sum(), normed)
    assert (alone - expected).abs().max() < 1e-12


def test_autocast_keeps_the_residual_stream_in_float32():
    # under autocast the products run in bfloat16; the residual they are added to must not
    mixer = ContextClusterMixer(16, heads=2, head_dim=4, proposals=2, folds=2)
    norm, scale = torch.nn.GroupNorm(1, 16), torch.full((16,), 1e-3)
    x = torch.randn(2, 16, 16, 16).contiguous(memory_format=torch.channels_last)
    assert mixer._projects_to_groups(x)  # (but not under autocast)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = mixer(x, norm=norm, scale=scale)
    assert out.dtype == torch.float32
    # a bfloat16 residual would round x itself: 2**-8 relative, far above 1e-3 * mixed
    assert (out - x).abs().max() < 0.05
    assert (out - mixer(x, norm=norm, scale=scale)).abs().max() < 1e-3
