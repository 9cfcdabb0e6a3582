"""The recomputed MLP half of a block equals autograd's plain formulation (GroupNorm(1), fc1,
GELU, fc2, layer scale, drop path, residual): outputs and every gradient, in float64, across
chunk boundaries, with mmcv's drop-path draws; the plain path runs where recomputing does not
pay."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.bricks import DropPath

from mmcoc.models.layers import mlp as mlp_module
from mmcoc.models.layers import mlp_residual


def parts(dim=6, hidden=24):
    torch.manual_seed(0)
    norm = nn.GroupNorm(1, dim).double()
    nn.init.normal_(norm.weight)
    nn.init.normal_(norm.bias)
    fc1, fc2 = nn.Linear(dim, hidden).double(), nn.Linear(hidden, dim).double()
    scale = nn.Parameter(torch.rand(dim, dtype=torch.float64))
    return norm, fc1, fc2, scale


def plain(x, norm, fc1, fc2, scale, drop):
    branch = fc2(F.gelu(fc1(norm(x).permute(0, 2, 3, 1)))).permute(0, 3, 1, 2)
    return x + drop(scale[:, None, None] * branch)


def run(fn, x, modules):
    x = x.detach().requires_grad_()
    for m in modules:
        m.grad = None if isinstance(m, nn.Parameter) else m.zero_grad()
    out = fn(x)
    out.backward(torch.randn(out.shape, dtype=out.dtype,
                             generator=torch.Generator().manual_seed(1)))
    params = [p for m in modules for p in ([m] if isinstance(m, nn.Parameter) else m.parameters())]
    return [out.detach(), x.grad] + [p.grad.clone() for p in params]


@pytest.mark.parametrize('rate', [0.0, 0.5])
@pytest.mark.parametrize('layout', ['channels_last', 'contiguous'])
def test_recomputed_mlp_residual_equals_autograd(rate, layout, monkeypatch):
    norm, fc1, fc2, scale = parts()
    x = torch.randn(3, 6, 5, 7, dtype=torch.float64) * 3 + 1
    if layout == 'channels_last':
        x = x.contiguous(memory_format=torch.channels_last)
    drop = DropPath(rate) if rate else nn.Identity()
    torch.manual_seed(5)  # the drop path's draws
    expected = run(lambda t: plain(t, norm, fc1, fc2, scale, drop), x, (norm, fc1, fc2, scale))
    # recomputed at every size, in chunks of 4 points (the last one shorter)
    monkeypatch.setattr(mlp_module, 'RECOMPUTE_BYTES', 0)
    monkeypatch.setattr(mlp_module, 'CHUNK_ELEMENTS', 4 * 24)
    calls = []
    original = mlp_module.RecomputedMlpResidual.apply
    monkeypatch.setattr(mlp_module.RecomputedMlpResidual, 'apply',
                        lambda *a: calls.append(1) or original(*a))
    torch.manual_seed(5)
    fused = run(lambda t: mlp_residual(t, norm, fc1, fc2, scale, rate), x,
                (norm, fc1, fc2, scale))
    assert calls, 'the recomputed path did not run'
    if rate:  # some image dropped, some kept: the draws are mmcv's
        assert 0 < (expected[0] == x).flatten(1).all(1).sum() < 3
    for a, b in zip(expected, fused):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_small_maps_and_inference_take_the_plain_path(monkeypatch):
    norm, fc1, fc2, scale = parts()
    monkeypatch.setattr(mlp_module.RecomputedMlpResidual, 'apply',
                        lambda *a: pytest.fail('recomputed below RECOMPUTE_BYTES'))
    x = torch.randn(2, 6, 3, 3, dtype=torch.float64, requires_grad=True)
    mlp_residual(x, norm, fc1, fc2, scale).sum().backward()
    monkeypatch.setattr(mlp_module, 'RECOMPUTE_BYTES', 0)
    with torch.no_grad():
        mlp_residual(x, norm, fc1, fc2, scale)
