"""PointMLP / PointMLP_CoC: sampling and grouping against brute force, the per-group context
cluster against the official formulation, parameters against the official constructors."""
import pytest
import torch

from mmcoc.models.layers import context_cluster
from mmcoc.models.pointcloud import (
    GroupContextCluster,
    GroupWeights,
    PointMLP,
    PointMLPClsHead,
    furthest_point_sample,
    gather_points,
    group_weights,
    knn_query,
    official_key,
)
from mmcoc.models.pointcloud.pointmlp import ConvBNReLURes1D, PreExtraction
from mmcoc.testing.naive_pointcloud import (
    naive_furthest_point_sample,
    naive_group_context_cluster,
    naive_knn,
    official_pointmlp_shapes,
)

DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])
TINY = dict(points=64, embed_dim=8, dim_expansion=(2, 2), pre_blocks=(1, 1), pos_blocks=(1, 1),
            k_neighbors=(8, 8), reducers=(2, 2))


def cloud(b, n, seed=0):
    xyz = torch.rand(b, n, 3, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    xyz[:, 5] = 0.01  # within the kernel's skipped ball around the origin
    return xyz


@pytest.mark.parametrize('device', DEVICES)
def test_furthest_point_sample_is_brute_force(device):
    xyz = cloud(3, 70)
    got = furthest_point_sample(xyz.to(device), 20).cpu()
    assert (got[:, 0] == 0).all()
    assert torch.equal(got, naive_furthest_point_sample(xyz, 20))
    assert not (got == 5).any()  # the kernel never picks a point at the origin
    plain = furthest_point_sample(xyz.to(device), 20, skip_origin=False).cpu()
    assert torch.equal(plain, naive_furthest_point_sample(xyz, 20, skip_origin=False))
    assert torch.equal(furthest_point_sample(xyz.to(device), 20).cpu(), got)  # deterministic


@pytest.mark.parametrize('device', DEVICES)
def test_knn_is_brute_force(device):
    xyz, queries = cloud(2, 90, 1), cloud(2, 30, 2)
    got = knn_query(xyz.to(device), queries.to(device), 7).cpu()
    expected, dist = naive_knn(xyz, queries, 7)
    assert torch.equal(got, expected)  # same neighbours, nearest first
    assert torch.equal(gather_points(xyz, got), xyz[torch.arange(2)[:, None, None], expected])


@pytest.mark.parametrize('normalizer', ['similarity', 'count'])
def test_group_context_cluster_is_the_official_formulation(normalizer):
    torch.manual_seed(0)
    module = GroupContextCluster(12, heads=2, head_dim=5, normalizer=normalizer).double()
    with torch.no_grad():
        module.sim_alpha.fill_(1.7)
        module.sim_beta.fill_(-0.3)
    x = torch.randn(6 * 9, 12, dtype=torch.float64, requires_grad=True)
    out = module(x, 9)
    grads = torch.autograd.grad(out.square().sum(), [x, *module.parameters()])
    ref = naive_group_context_cluster(module, x, 9)
    ref_grads = torch.autograd.grad(ref.square().sum(), [x, *module.parameters()])
    torch.testing.assert_close(out, ref)
    for got, expected in zip(grads, ref_grads):
        torch.testing.assert_close(got, expected)


@pytest.mark.parametrize('with_product', [False, True])
def test_group_weights_backward_is_autograds(with_product):
    """``GroupWeights``' hand-written backward against autograd through ``group_weights`` (and
    the next layer's product ``x @ next_weight.T``), every input's gradient, two heads,
    float64."""
    torch.manual_seed(0)
    G, k, C, heads, d = 5, 6, 7, 2, 3
    inputs = [torch.randn(G, k, C), torch.randn(heads * d, C), torch.randn(heads * d),
              torch.tensor([1.3]), torch.tensor([-0.4]), torch.randn(4, C)]
    inputs = [t.double().requires_grad_() for t in inputs]
    next_weight = inputs[-1] if with_product else None
    grad_outputs = [torch.randn(G, k, heads).double(), torch.randn(G, heads, C).double(),
                    torch.randn(G, k, 4).double()][:3 if with_product else 2]
    got = GroupWeights.apply(*inputs[:5], next_weight, heads)
    assert (got[2] is None) != with_product
    expected = group_weights(*inputs[:5], heads)[:2]
    if with_product:
        expected += (torch.matmul(inputs[0], next_weight.t()), )
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b)
    wrt = inputs if with_product else inputs[:5]
    got_grads = torch.autograd.grad(got[:len(grad_outputs)], wrt, grad_outputs,
                                    retain_graph=True)
    again = torch.autograd.grad(got[:len(grad_outputs)], wrt, grad_outputs)
    assert all(torch.equal(a, b) for a, b in zip(got_grads, again))  # saved tensors intact
    expected_grads = torch.autograd.grad(expected, wrt, grad_outputs)
    for a, b in zip(got_grads, expected_grads):
        torch.testing.assert_close(a, b)


def test_pre_extraction_without_blocks_and_residual_mlp_on_groups():
    """No blocks inside the groups: the transfer MLP and the max only. A residual MLP gives the
    same on groups ``[G, k, C]`` as on their rows (the context cluster's layers pass groups)."""
    torch.manual_seed(0)
    module = PreExtraction(6, 8, blocks=0).double().eval()
    x = torch.randn(2, 3, 5, 6, dtype=torch.float64)
    expected = module.transfer(x.reshape(-1, 6)).view(2, 3, 5, 8).max(2).values
    torch.testing.assert_close(module(x), expected)
    block = ConvBNReLURes1D(8).double().eval()
    groups = torch.randn(6, 5, 8, dtype=torch.float64)
    torch.testing.assert_close(block(groups), block(groups.view(-1, 8)).view(6, 5, 8))


@pytest.mark.parametrize('bias', [False, True])
def test_pre_extraction_is_its_layers_one_after_another(bias):
    """The residual MLPs take each context cluster's output factored (``GroupOffset``): the
    same outputs and gradients as applying every layer to the rows in turn."""
    torch.manual_seed(0)
    module = PreExtraction(10, 12, blocks=2, bias=bias, heads=2, head_dim=5).double()
    with torch.no_grad():
        for layer in module.operation:
            if isinstance(layer, GroupContextCluster):
                layer.sim_alpha.uniform_(0.5, 2)
                layer.sim_beta.uniform_(-1, 1)
    x = torch.randn(2, 3, 7, 10, dtype=torch.float64, requires_grad=True)

    def one_after_another(x):
        rows = module.transfer(x.reshape(-1, 10))
        for layer in module.operation:
            rows = layer(rows, 7) if isinstance(layer, GroupContextCluster) else layer(rows)
        return rows.view(2, 3, 7, -1).max(2).values

    params = [x, *module.parameters()]
    out = module(x)
    grads = torch.autograd.grad(out.sin().sum(), params)
    ref = one_after_another(x)
    ref_grads = torch.autograd.grad(ref.sin().sum(), params)
    torch.testing.assert_close(out, ref)
    for got, expected in zip(grads, ref_grads):
        torch.testing.assert_close(got, expected)


def test_group_context_cluster_is_the_image_op_with_one_center_per_map():
    torch.manual_seed(1)
    module = GroupContextCluster(16, heads=2, head_dim=4)
    x = torch.randn(5 * 7, 16)
    G, k = 5, 7
    feats = module.fc1(x).view(G, k, 8).transpose(1, 2).unsqueeze(-1)  # [G, E*d, k, 1]
    values = module.fc_v(x).view(G, k, 8).transpose(1, 2).unsqueeze(-1)
    image_op = context_cluster(feats, values, module.sim_alpha, module.sim_beta, heads=2,
                               proposals=1, folds=1)
    expected = x + module.fc2(image_op.squeeze(-1).transpose(1, 2).reshape(G * k, 8))
    torch.testing.assert_close(module(x, k), expected)


@pytest.mark.parametrize('context_cluster,total', [(True, 15_326_815), (False, 13_232_079)])
def test_parameters_are_the_official_constructors(context_cluster, total):
    backbone, head = PointMLP(context_cluster=context_cluster), PointMLPClsHead(15)
    ours = {f'backbone.{k}': tuple(v.shape) for k, v in backbone.named_parameters()}
    ours.update({f'head.{k}': tuple(v.shape) for k, v in head.named_parameters()})
    official = {official_key('module.' + k): v for k, v in
                official_pointmlp_shapes(15, context_cluster).items()}
    assert ours == official  # names and shapes: official checkpoints load unchanged
    count = sum(p.numel() for m in (backbone, head) for p in m.parameters())
    print(f'PointMLP{"_CoC" if context_cluster else ""}, 15 classes: {count:,} parameters')
    assert count == total == sum(torch.Size(s).numel() for s in official.values())


@pytest.mark.parametrize('device', DEVICES)
def test_tiny_model_trains_and_is_deterministic(device):
    torch.manual_seed(0)
    backbone, head = PointMLP(**TINY).to(device), PointMLPClsHead(4, 32, (16, )).to(device)
    xyz = cloud(4, 80).to(device)
    logits = head(backbone(xyz))
    assert logits.shape == (4, 4)
    logits.logsumexp(-1).sum().backward()
    grads = [p.grad for p in backbone.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    backbone.eval()
    head.eval()
    with torch.no_grad():
        assert torch.equal(head(backbone(xyz)), head(backbone(xyz)))


def test_tiny_model_trains_under_autocast():
    """The context cluster's own backward (``GroupWeights``) and the in-place offsets keep
    their dtypes straight when autocast runs the products in bfloat16."""
    torch.manual_seed(0)
    backbone, head = PointMLP(**TINY).eval(), PointMLPClsHead(4, 32, (16, )).eval()
    xyz = cloud(2, 80)
    reference = head(backbone(xyz))  # eval: no dropout, the same statistics
    with torch.autocast('cpu', dtype=torch.bfloat16):
        logits = head(backbone(xyz))
    assert logits.dtype == torch.bfloat16
    torch.testing.assert_close(logits.float(), reference, atol=0.1, rtol=0.1)
    backbone.train()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        logits = head(backbone(xyz))
    logits.float().logsumexp(-1).sum().backward()
    for name, param in backbone.named_parameters():
        assert param.grad is not None and param.grad.dtype == torch.float32, name
        assert torch.isfinite(param.grad).all(), name


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match=r'\[B, N, 3\]'):
        PointMLP(**TINY)(torch.zeros(2, 3, 64))
    with pytest.raises(ValueError, match='cannot make 32 groups'):
        PointMLP(**TINY)(torch.zeros(2, 20, 3))
