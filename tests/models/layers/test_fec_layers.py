"""FEC's two clustering layers against their literal formulations (mmcoc.testing.naive_fec)."""
import pytest
import torch

from mmcoc.models.layers import (
    ClusterPool,
    ContextClusterMixer,
    cluster_pool,
    cluster_pooling,
    context_cluster,
)
from mmcoc.testing import naive_cluster_pool, naive_fec_cluster

# heads, proposals, folds, H, W
MIXER_CASES = [
    (2, 4, 1, 8, 12),  # the classification setting: 4x4 centers, no folds
    (3, 2, 2, 10, 14),
    (2, 3, 2, 7, 9),  # odd sizes: the last region and some pooling windows are partly padding
    (1, 7, 2, 11, 6),  # detection's 7x7 centers, more centers per side than region rows
]
# folds, H, W
POOL_CASES = [(1, 8, 12), (1, 7, 9), (2, 12, 8), (2, 9, 13), (2, 3, 5), (3, 10, 7)]


def randn(*shape, seed):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed),
                       dtype=torch.float64, requires_grad=True)


def value_and_grads(out, inputs):
    upstream = torch.randn(out.shape, generator=torch.Generator().manual_seed(9),
                           dtype=out.dtype)
    grads = torch.autograd.grad((out * upstream).sum(), inputs, allow_unused=True)
    return [torch.zeros_like(t) if g is None else g for t, g in zip(inputs, grads)]


@pytest.mark.parametrize('heads,proposals,folds,H,W', MIXER_CASES)
def test_plain_weighting_is_the_fec_mixer(heads, proposals, folds, H, W):
    inputs = [randn(2, heads * 6, H, W, seed=0), randn(2, heads * 5, H, W, seed=1),
              torch.tensor([1.7], dtype=torch.float64, requires_grad=True),
              torch.tensor([-0.3], dtype=torch.float64, requires_grad=True)]
    fast, fast_assignment = context_cluster(*inputs, heads, proposals, folds, normalizer='count',
                                            weighting='plain', return_assignment=True)
    naive, naive_assignment = naive_fec_cluster(*inputs, heads, proposals, folds)
    assert torch.equal(fast_assignment, naive_assignment)
    assert fast.shape == (2, heads * 5, H, W)
    assert torch.allclose(fast, naive, atol=1e-10)
    for name, a, b in zip(('feats', 'values', 'alpha', 'beta'), value_and_grads(fast, inputs),
                          value_and_grads(naive, inputs)):
        assert torch.allclose(a, b, atol=1e-9), name


def test_plain_weighting_differs_from_the_similarity_weighted_sum():
    inputs = [randn(1, 8, 8, 8, seed=0), randn(1, 8, 8, 8, seed=1),
              torch.ones(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)]
    plain = context_cluster(*inputs, 2, 2, 1, normalizer='count', weighting='plain')
    weighted = context_cluster(*inputs, 2, 2, 1, normalizer='count')
    assert not torch.allclose(plain, weighted)


def test_plain_weighting_needs_the_count_normalizer():
    x = torch.randn(1, 4, 4, 4)
    with pytest.raises(ValueError, match="normalizer='count'"):
        context_cluster(x, x, torch.ones(1), torch.zeros(1), 1, 2, 1, weighting='plain')
    with pytest.raises(ValueError, match='weighting must be one of'):
        ContextClusterMixer(4, weighting='mean')


@pytest.mark.parametrize('folds,H,W', POOL_CASES)
def test_cluster_pool_matches_naive(folds, H, W):
    feats, values = randn(2, 6, H, W, seed=2), randn(2, 5, H, W, seed=3)
    fast, fast_assignment = cluster_pool(feats, values, folds, return_assignment=True)
    naive, naive_assignment = naive_cluster_pool(feats, values, folds)
    assert fast.shape == (2, 5, (H + 1) // 2, (W + 1) // 2)
    assert torch.equal(fast_assignment, naive_assignment)
    assert torch.allclose(fast, naive, atol=1e-12)
    fast_grads = value_and_grads(fast, [feats, values])
    naive_grads = value_and_grads(naive, [feats, values])
    assert torch.allclose(fast_grads[1], naive_grads[1], atol=1e-12)
    # the similarity features only choose the clusters
    assert not fast_grads[0].any() and not naive_grads[0].any()


def test_cluster_pool_searches_every_center_of_the_region():
    feats, values = randn(1, 4, 8, 8, seed=4), randn(1, 3, 8, 8, seed=5)
    _, assignment = cluster_pool(feats, values, return_assignment=True)
    own_window = (torch.arange(8) // 2)[:, None] * 4 + (torch.arange(8) // 2)[None, :]
    # with random features most points find a more similar center outside their own window
    assert (assignment[0, 0] != own_window).float().mean() > 0.5
    assert assignment.max() < 16


def test_cluster_pool_chunked_argmax_is_the_same(monkeypatch):
    feats, values = randn(2, 6, 9, 11, seed=6), randn(2, 5, 9, 11, seed=7)
    whole = cluster_pool(feats, values, 2, return_assignment=True)
    monkeypatch.setattr(cluster_pooling, 'SIMILARITY_CHUNK', 20)  # a few points per chunk
    chunked = cluster_pool(feats, values, 2, return_assignment=True)
    assert torch.equal(whole[1], chunked[1]) and torch.equal(whole[0], chunked[0])


def test_cluster_with_no_members_keeps_its_pooled_value():
    # A 1x6 map, three 2x2 windows (the missing row is padding). Centers: (1, 0), (0, 0.2)
    # and (-1, 0); the middle window's points lean right and left and join the outer centers.
    feats = torch.tensor([[[[1., 1., 1., -1., -1., -1.], [0., 0., .2, .2, 0., 0.]]]])
    feats = feats.permute(0, 2, 1, 3)  # [1, 2 channels, 1, 6]
    values = torch.tensor([[[[1., 2., 3., 4., 5., 6.]]]])
    out, assignment = cluster_pool(feats, values, return_assignment=True)
    assert assignment.tolist() == [[[[0, 0, 0, 2, 2, 2]]]]
    # pooled values 1.5, 3.5, 5.5; each cluster is the mean of its pooled value and members
    assert out.flatten().tolist() == [(1.5 + 1 + 2 + 3) / 4, 3.5, (5.5 + 4 + 5 + 6) / 4]


def test_cluster_pool_rejects_bad_input():
    with pytest.raises(ValueError, match='same batch and size'):
        cluster_pool(torch.randn(1, 4, 8, 8), torch.randn(1, 4, 6, 8))
    with pytest.raises(ValueError, match='folds must be a positive int'):
        ClusterPool(4, 8, folds=0)


@pytest.mark.parametrize('size', [(9, 13), (1, 1), (2, 7)])
def test_cluster_pool_module_matches_its_skip_conv_size(size):
    pool = ClusterPool(6, 10, folds=2)
    pool.keep_assignment = True
    x = torch.randn(2, 6, *size, requires_grad=True)
    out = pool(x)
    assert out.shape == pool.conv_skip(x).shape
    assert pool.last_assignment.shape == (2, 1, *size)
    assert pool.last_assignment.dtype == torch.long
    out.square().mean().backward()
    assert not pool.conv_f.weight.requires_grad and pool.conv_f.weight.grad is None
    assert {n for n, _ in pool.named_buffers()} == {'conv_f.weight', 'conv_f.bias'}
    assert all(p.grad is not None for p in pool.parameters() if p.requires_grad)
    assert {n for n, p in pool.named_parameters() if p.requires_grad} == {
        'conv_v.weight', 'conv_v.bias', 'conv_skip.weight', 'conv_skip.bias', 'norm2.weight',
        'norm2.bias'}


def test_cluster_pool_module_is_skip_plus_normed_clusters():
    pool = ClusterPool(4, 6).double()
    x = torch.randn(1, 4, 6, 8, dtype=torch.float64)
    clusters, _ = naive_cluster_pool(pool.conv_f(x), pool.conv_v(x))
    assert torch.allclose(pool(x), pool.conv_skip(x) + pool.norm2(clusters), atol=1e-12)
