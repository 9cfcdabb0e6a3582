"""The Triton kernels of the clustering op against its PyTorch formulation: run by Triton's
interpreter on the CPU here (``TRITON_INTERPRET=1``), compiled on a GPU where CUDA is present
(the whole op against the naive formulation there)."""
import os

import pytest
import torch
import torch.nn.functional as F

from mmcoc.models.layers import fused_clustering
from mmcoc.models.layers.clustering import AggregateDispatch, context_cluster
from mmcoc.testing import naive_context_cluster

pytest.importorskip('triton')
pytestmark = pytest.mark.triton
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
# the kernels' own tests: compiled on a GPU, else interpreted (tests/conftest.py)
DEVICE = 'cuda' if torch.cuda.is_available() else 'cpu'


@pytest.fixture(scope='module')
def kernels():
    if DEVICE == 'cpu' and os.environ.get('TRITON_INTERPRET') != '1':
        pytest.skip('no CUDA, and Triton was imported before TRITON_INTERPRET=1 was set')
    return fused_clustering


def groups(G=6, N=45, M=25, c=24, d=20, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(G, N, c, generator=gen)
    centers = F.normalize(torch.randn(G, M, c, generator=gen), dim=2)
    v = torch.randn(G, N, d, generator=gen)
    value_centers = torch.randn(G, M, d, generator=gen)
    return [t.to(DEVICE) for t in (x, centers, v, value_centers)]


@pytest.mark.parametrize('masked', [False, True])
@pytest.mark.parametrize('alpha', [1.7, -0.6, 0.0])
def test_assignment_is_the_argmax_of_the_similarities(kernels, masked, alpha):
    x, centers, _, _ = groups()
    norms = x.norm(dim=2, keepdim=True)
    alpha, beta = torch.tensor([alpha], device=DEVICE), torch.tensor([-0.3], device=DEVICE)
    sim = torch.sigmoid(torch.bmm(x, centers.transpose(1, 2)) / norms * alpha + beta)
    valid = None
    if masked:  # 3 regions, each with some centers that may not be chosen
        valid = (torch.rand(3, 25, generator=torch.Generator().manual_seed(1)) > 0.4).to(DEVICE)
        sim.view(-1, 3, 45, 25).masked_fill_(~valid[None, :, None, :], -1.0)
    expected = sim.argmax(-1)  # alpha = 0: every similarity equal, the first (valid) center
    got = kernels.assign(x, centers, alpha, valid)
    assert got.dtype == torch.long and torch.equal(got, expected)
    if masked:
        assert valid.view(1, 3, 1, 25).expand(2, 3, 45, 25).reshape(6, 45, 25).gather(
            2, got.unsqueeze(2)).all()


@pytest.mark.parametrize('weighted,by_similarity,with_members', [
    (True, True, False), (True, False, False), (False, False, True), (False, False, False)])
def test_aggregate_dispatch_and_its_gradients_equal_the_pytorch_op(
        kernels, weighted, by_similarity, with_members):
    _, _, v, value_centers = groups()
    G, N, d = v.shape
    M = value_centers.shape[1]
    gen = torch.Generator().manual_seed(2)
    assignment = torch.randint(0, M, (G, N), generator=gen).to(DEVICE)
    s = torch.rand(G, N, generator=gen).to(DEVICE)
    members = (torch.rand(3, N, generator=gen) > 0.2).float().to(DEVICE) if with_members \
        else None
    grad = torch.randn(G, N, d, generator=gen).to(DEVICE)

    def run(op):
        inputs = [t.clone().requires_grad_() for t in (v, s, value_centers)]
        out = op(*inputs)
        out.backward(grad)
        return [out.detach()] + [t.grad for t in inputs]

    def reference(v, s, value_centers):
        flat = (assignment + torch.arange(G, device=DEVICE).unsqueeze(1) * M).reshape(-1)
        counts = None
        if not by_similarity:
            weights = members.repeat(G // 3, 1).reshape(-1) if with_members else None
            counts = torch.bincount(flat, weights, minlength=G * M).float()
        return AggregateDispatch.apply(v.reshape(G * N, d), s.reshape(-1),
                                       value_centers.reshape(G * M, d), flat, counts,
                                       weighted).view(G, N, d)

    def fused(v, s, value_centers):
        return kernels.aggregate_dispatch(v, s, value_centers, assignment, members,
                                              weighted, by_similarity)

    for a, b in zip(run(fused), run(reference)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('normalizer,weighting', [('similarity', 'similarity'),
                                                  ('count', 'similarity'), ('count', 'plain')])
@pytest.mark.parametrize('size,folds', [((16, 24), 2), ((19, 23), 2)])
def test_the_op_through_the_kernels_equals_the_pytorch_op(kernels, normalizer, weighting, size,
                                                          folds, monkeypatch):
    # the whole op (gathered similarities, padded regions, the map put back together) with
    # its assignment and aggregation in the kernels, against the PyTorch formulation
    torch.manual_seed(0)
    feats, values = torch.randn(2, 4 * 24, *size), torch.randn(2, 4 * 16, *size)
    alpha, beta = torch.tensor([1.3]), torch.tensor([0.2])
    calls = []
    assign = kernels.assign
    monkeypatch.setattr(kernels, 'assign', lambda *a: calls.append(1) or assign(*a))
    results = []
    for fused in (False, True):
        monkeypatch.setattr(kernels, 'applies', lambda *t, fused=fused: fused)
        inputs = [t.to(DEVICE).requires_grad_() for t in (feats, values, alpha, beta)]
        out, assignment = context_cluster(*inputs, heads=4, proposals=3, folds=folds,
                                          normalizer=normalizer, weighting=weighting,
                                          return_assignment=True)
        out.backward(torch.linspace(-1, 1, out.numel(), device=DEVICE).view_as(out))
        results.append([out.detach(), assignment] + [i.grad for i in inputs])
    assert len(calls) == 1
    assert torch.equal(results[0][1], results[1][1])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    if size[0] % folds == 0 and size[1] % folds == 0 and weighting == 'similarity':
        naive = naive_context_cluster(*[t.to(DEVICE) for t in (feats, values, alpha, beta)],
                                      4, 3, folds, normalizer)
        torch.testing.assert_close(results[1][0], naive, rtol=1e-5, atol=1e-5)


@cuda
def test_cuda_tensors_take_the_kernels_unless_turned_off(monkeypatch):
    calls = []
    assign = fused_clustering.assign
    monkeypatch.setattr(fused_clustering, 'assign', lambda *a: calls.append(1) or assign(*a))
    x = torch.randn(1, 48, 16, 16, device='cuda')
    context_cluster(x, x, torch.ones(1, device='cuda'), torch.zeros(1, device='cuda'), 2, 2, 2)
    assert calls == [1]
    with fused_clustering.fused_clustering(False):
        context_cluster(x, x, torch.ones(1, device='cuda'), torch.zeros(1, device='cuda'), 2,
                        2, 2)
    assert calls == [1]
    # TorchScript's tracing records no kernel launch: it traces the PyTorch formulation
    torch.jit.trace(lambda t: context_cluster(t, t, torch.ones(1, device='cuda'),
                                              torch.zeros(1, device='cuda'), 2, 2, 2), x)
    assert calls == [1]
