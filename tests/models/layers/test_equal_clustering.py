"""The SEC op against a naive per-cluster loop over an explicitly padded, masked sequence."""
import math

import pytest
import torch

from mmcoc.models.layers import equal_cluster_attention, equal_cluster_order


def naive_sec_attention(q, k, v, num_clusters, pad_fill=0.0):
    """SEC written out token by token: rank each head's tokens by cosine similarity to the mean
    key, pad the ranked sequence to ``num_clusters * L`` with ``pad_fill`` tokens (ranked last),
    and for every cluster attend over the keys of that cluster that are not padding."""
    B, E, N, d = q.shape
    L = math.ceil(N / num_clusters)
    out = torch.zeros(B, E, N, v.shape[-1], dtype=q.dtype)
    groups = torch.zeros(B, E, N, dtype=torch.long)
    for b in range(B):
        for e in range(E):
            center = k[b, e].mean(0)
            sims = torch.stack([center @ k[b, e, n] / (center.norm() * k[b, e, n].norm())
                                for n in range(N)])
            order = torch.argsort(sims.detach(), stable=True)
            pad = num_clusters * L - N
            fill = torch.full((pad, d), pad_fill, dtype=q.dtype)
            qs = torch.cat([q[b, e, order], fill])
            ks = torch.cat([k[b, e, order], fill])
            vs = torch.cat([v[b, e, order], torch.full((pad, v.shape[-1]), pad_fill,
                                                        dtype=q.dtype)])
            real = torch.arange(num_clusters * L) < N
            for g in range(num_clusters):
                rows = range(g * L, (g + 1) * L)
                for i in rows:
                    if not real[i]:
                        continue
                    logits = torch.stack([qs[i] @ ks[j] for j in rows]) / math.sqrt(d)
                    logits = logits.masked_fill(~real[g * L:(g + 1) * L], float('-inf'))
                    weights = torch.softmax(logits, 0)
                    out[b, e, order[i]] = (weights[:, None] * vs[g * L:(g + 1) * L]).sum(0)
                    groups[b, e, order[i]] = g
    return out, groups


def reference_divisible(q, k, v, num_clusters):
    """The released code's formulation (sort, split into equal groups, attend, restore), for a
    token count that divides by the cluster count."""
    B, E, N, d = q.shape
    order = equal_cluster_order(k)
    idx = order.unsqueeze(-1).expand_as(q)
    qs, ks, vs = (x.gather(2, idx).view(B, E, num_clusters, N // num_clusters, d)
                  for x in (q, k, v))
    attn = torch.softmax(qs @ ks.transpose(-1, -2) * d ** -0.5, dim=-1)
    out = (attn @ vs).view(B, E, N, d)
    return out.gather(2, order.argsort(-1).unsqueeze(-1).expand_as(out))


def _inputs(B, E, N, d, seed=0, grad=False):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(B, E, N, d, generator=g, dtype=torch.float64).requires_grad_(grad)
            for _ in range(3)]


@pytest.mark.parametrize('N,K', [(16, 4), (15, 4), (21, 8), (50, 32), (5, 8), (9, 1), (1, 3)])
def test_op_matches_naive_loop_outputs_groups_and_grads(N, K):
    q, k, v = _inputs(2, 2, N, 8, seed=N + K, grad=True)
    out, groups = equal_cluster_attention(q, k, v, K, return_assignment=True)
    upstream = torch.randn_like(out)
    grads = torch.autograd.grad((out * upstream).sum(), (q, k, v))
    ref, ref_groups = naive_sec_attention(q, k, v, K)
    ref_grads = torch.autograd.grad((ref * upstream).sum(), (q, k, v))
    torch.testing.assert_close(out, ref)
    if K > 1:
        assert torch.equal(groups, ref_groups)
    else:
        assert not groups.any()
    for got, want in zip(grads, ref_grads):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize('N,K', [(64, 8), (12, 3), (32, 32)])
def test_divisible_counts_are_the_released_computation(N, K):
    q, k, v = _inputs(1, 3, N, 16, seed=1)
    torch.testing.assert_close(equal_cluster_attention(q, k, v, K),
                               reference_divisible(q, k, v, K))


def test_padding_content_never_reaches_real_tokens():
    # the naive loop materialises the padding: whatever it holds, real outputs stay the same,
    # and they are the op's
    q, k, v = _inputs(1, 2, 27, 8, seed=3)
    clean, _ = naive_sec_attention(q, k, v, 4, pad_fill=0.0)
    noisy, _ = naive_sec_attention(q, k, v, 4, pad_fill=1e3)
    torch.testing.assert_close(clean, noisy)
    torch.testing.assert_close(equal_cluster_attention(q, k, v, 4), clean)


def test_tokens_only_see_their_own_cluster():
    # N = 23 with 4 clusters: groups of 6, 6, 6 and a last one of 5 that the padding completes
    q, k, v = _inputs(1, 1, 23, 8, seed=4)
    out, groups = equal_cluster_attention(q, k, v, 4, return_assignment=True)
    assert torch.bincount(groups.flatten(), minlength=4).tolist() == [6, 6, 6, 5]
    for g in range(4):
        others = groups != g
        v2 = v.clone()
        v2[others] += 100.  # values do not move the ranking, which uses the keys
        out2 = equal_cluster_attention(q, k, v2, 4)
        members = groups == g
        torch.testing.assert_close(out2[members], out[members])
        assert not torch.allclose(out2[others], out[others])


def test_order_ranks_by_cosine_to_the_mean_key_and_ignores_scale():
    k = _inputs(1, 2, 30, 8, seed=5)[0]
    order = equal_cluster_order(k)
    center = k.mean(2, keepdim=True)
    cos = torch.nn.functional.cosine_similarity(k, center, dim=-1)
    assert (cos.gather(2, order).diff(dim=-1) >= 0).all()
    assert torch.equal(equal_cluster_order(k * 0.125), order)  # SecViT ranks scaled keys


def test_bad_inputs_name_the_problem():
    q, k, v = _inputs(1, 1, 8, 8)
    with pytest.raises(ValueError, match='num_clusters must be a positive int'):
        equal_cluster_attention(q, k, v, 0)
    with pytest.raises(ValueError, match=r'\[batch, heads, tokens, dim\]'):
        equal_cluster_attention(q[0], k, v, 2)
    with pytest.raises(ValueError, match='q and k must have the same shape'):
        equal_cluster_attention(q, k[..., :4], v, 2)



@pytest.mark.parametrize('N,K', [(16, 4), (15, 4)])
def test_compiled_gathers_are_one_opaque_op_with_eager_outputs_and_grads(N, K):
    """Under torch.compile the rows are gathered by ``mmcoc::select_rows`` in the forward and
    the backward graph (inductor would fuse a plain gather into unvectorised loads); outputs
    and gradients stay eager's. The graphs are AOT autograd's, as inductor would get them."""
    from functorch.compile import make_boxed_func
    from torch._dynamo.backends.common import aot_autograd

    graphs = []

    def record(gm, example_inputs):
        graphs.append(gm)
        return make_boxed_func(gm.forward)

    torch._dynamo.reset()
    q, k, v = _inputs(2, 2, N, 8, seed=N, grad=True)
    out = equal_cluster_attention(q, k, v, K)
    upstream = torch.randn_like(out)
    grads = torch.autograd.grad((out * upstream).sum(), (q, k, v))
    compiled = torch.compile(equal_cluster_attention, fullgraph=True,
                             backend=aot_autograd(fw_compiler=record, bw_compiler=record))
    got = compiled(q, k, v, K)
    got_grads = torch.autograd.grad((got * upstream).sum(), (q, k, v))
    # q, k, v ranked and the output put back: in the forward graph, and their gradients in the
    # backward one
    assert [sum(node.target is torch.ops.mmcoc.select_rows.default for node in gm.graph.nodes)
            for gm in graphs] == [4, 4]
    torch.testing.assert_close(got, out)
    for a, b in zip(got_grads, grads):
        torch.testing.assert_close(a, b)
