"""``with_cp=True``: every block of ContextCluster, FEC and SecViT runs under non-reentrant
activation checkpointing, with the outputs and gradients of the plain run, also with
frozen_stages, norm_eval and the bf16 CPU autocast."""
import pytest
import torch

import mmcoc.models.layers.tracing as tracing
from mmcoc.models import FEC, ContextCluster, SecViT

BACKBONES = {
    'ContextCluster': lambda **kw: ContextCluster('tiny', drop_path_rate=0.1, **kw),
    'FEC': lambda **kw: FEC('small', drop_path_rate=0.1, **kw),
    'SecViT': lambda **kw: SecViT('t', **kw),  # drop path 0.1 by arch
}
BLOCKS = {'ContextCluster': 14, 'FEC': 14, 'SecViT': 15}


# small maps: one thread is fastest, and several oversubscribe a loaded CPU by far
pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture
def checkpoint_calls(monkeypatch):
    calls = []
    original = tracing.checkpoint

    def counting(fn, *args, **kwargs):
        if isinstance(fn, torch.nn.Module):  # a block (SecViT's FFN recomputes a method)
            calls.append(kwargs.get('use_reentrant'))
        return original(fn, *args, **kwargs)

    monkeypatch.setattr(tracing, 'checkpoint', counting)
    return calls


def _pair(name, **kwargs):
    torch.manual_seed(0)
    plain = BACKBONES[name](out_indices=(0, 1, 2, 3), **kwargs)
    torch.manual_seed(0)
    checkpointed = BACKBONES[name](out_indices=(0, 1, 2, 3), with_cp=True, **kwargs)
    checkpointed.load_state_dict(plain.state_dict())
    return plain.train(), checkpointed.train()


def _run(model, x, autocast=False):
    torch.manual_seed(1)  # the same drop-path draws in both runs
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
        outs = model(x)
    sum(o.float().square().mean() for o in outs).backward()
    return [o.detach() for o in outs], {n: p.grad for n, p in model.named_parameters()
                                        if p.grad is not None}


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_same_outputs_and_gradients_under_checkpointing(name, checkpoint_calls):
    plain, checkpointed = _pair(name)
    x = torch.randn(2, 3, 64, 48)
    outs, grads = _run(plain, x)
    assert checkpoint_calls == []
    outs_cp, grads_cp = _run(checkpointed, x)
    # each block once, non-reentrant
    assert checkpoint_calls == [False] * BLOCKS[name]
    assert all(torch.equal(a, b) for a, b in zip(outs, outs_cp))
    assert grads.keys() == grads_cp.keys() == {n for n, _ in plain.named_parameters()}
    for key in grads:
        torch.testing.assert_close(grads[key], grads_cp[key], rtol=1e-5, atol=1e-7)
    # no checkpointing where nothing is recorded for backward
    checkpoint_calls.clear()
    with torch.no_grad():
        checkpointed(x)
    assert checkpoint_calls == []


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_checkpointing_with_frozen_stages_norm_eval_and_bf16_autocast(name, checkpoint_calls):
    plain, checkpointed = _pair(name, frozen_stages=2, norm_eval=True)
    plain.train()
    checkpointed.train()
    x = torch.randn(1, 3, 64, 64)
    outs, grads = _run(plain, x, autocast=True)
    outs_cp, grads_cp = _run(checkpointed, x, autocast=True)
    assert checkpoint_calls  # the blocks of the trainable stages at least
    assert all(o.isfinite().all() for o in outs_cp)
    assert all(torch.equal(a, b) for a, b in zip(outs, outs_cp))
    trainable = {n for n, p in checkpointed.named_parameters() if p.requires_grad}
    assert grads_cp.keys() == grads.keys() == trainable
    assert trainable and all(not n.startswith('patch_embed') for n in trainable)
    for key in grads:
        torch.testing.assert_close(grads[key], grads_cp[key], rtol=1e-5, atol=1e-7)
    # frozen stages and batch norms stay in eval mode
    assert not checkpointed.patch_embed.training
    assert all(not m.training for m in checkpointed.modules()
               if isinstance(m, torch.nn.modules.batchnorm._BatchNorm))
