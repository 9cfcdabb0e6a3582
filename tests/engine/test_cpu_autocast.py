"""``--amp`` on a CPU: the demo detector's forward and backward under bfloat16 autocast
(mmcoc.CPUAutocastOptimWrapper, what tools/train.py --amp builds without CUDA) give finite
losses and gradients, and the step really ran in bfloat16."""
import importlib

import pytest
import torch
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper

import mmcoc  # noqa: F401
from mmcoc.engine import use_amp
from mmcoc.utils.config import build_model

DEMO = 'configs/demo/coc_tiny_maskrcnn_demo.py'


def test_demo_backbone_and_neck_forward_backward_in_bf16_are_finite():
    torch.manual_seed(0)
    model = build_model(Config.fromfile(DEMO))
    model.train()
    images = torch.randn(2, 3, 96, 128)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        feats = model.extract_feat(images)
    assert all(f.dtype == torch.bfloat16 for f in feats)
    sum(f.float().square().mean() for f in feats).backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def rpn_losses(cfg, data):
    """The RPN's losses of the demo detector's first forward (before any proposal sampling,
    so float32 and bfloat16 runs see the same anchors and targets)."""
    torch.manual_seed(0)
    model = build_model(cfg)
    model.train()
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    with wrapper.optim_context(model):
        losses = model(**model.data_preprocessor(data, True), mode='loss')
    return {k: float(sum(v)) for k, v in losses.items() if k.startswith('loss_rpn')}


def demo_batch():
    torch.manual_seed(1)
    return demo_mm_inputs(2, [[3, 64, 80], [3, 72, 64]], num_items=[3, 2], num_classes=4,
                          with_mask=True)


# mmcv's CPU nms and RoIAlign take float32 only; mmcoc.CPUAutocastOptimWrapper runs them in
# float32 inside autocast (mmcoc.engine.amp_compat, within each step). The demo computes
# RoIAlign with torchvision; mmdet's default (and the published configs') is mmcv's.
@pytest.mark.parametrize('use_torchvision', [True, False], ids=['torchvision', 'mmcv'])
def test_demo_detector_trains_a_step_under_bf16_autocast(use_torchvision, monkeypatch):
    cfg = use_amp(Config.fromfile(DEMO))
    for extractor in ('bbox_roi_extractor', 'mask_roi_extractor'):
        cfg.model.roi_head[extractor].roi_layer.use_torchvision = use_torchvision
    assert cfg.optim_wrapper.type == 'mmcoc.CPUAutocastOptimWrapper'
    torch.manual_seed(0)
    model = build_model(cfg)
    model.train()
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    mmcv_roi_align = importlib.import_module('mmcv.ops.roi_align')
    mmcv_calls = []

    def counted_roi_align(*args):
        mmcv_calls.append(args[0].dtype)
        return mmcv_roi_align.RoIAlignFunction.apply(*args)

    monkeypatch.setattr(mmcv_roi_align, 'roi_align', counted_roi_align)
    dtypes = set()
    model.neck.register_forward_hook(lambda m, i, out: dtypes.update(o.dtype for o in out))
    before = [p.detach().clone() for p in model.parameters()]
    log_vars = model.train_step(demo_batch(), wrapper)
    # the FPN's convolutions ran in bfloat16 (the backbone's outputs are float32: each block
    # adds its bfloat16 branches to the float32 residual stream, which promotes)
    assert dtypes == {torch.bfloat16}
    assert bool(mmcv_calls) != use_torchvision and set(mmcv_calls) <= {torch.bfloat16}
    assert {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox', 'loss_mask'} <= set(log_vars)
    assert all(torch.isfinite(torch.as_tensor(v)) for v in log_vars.values()), log_vars
    # the demo config clips gradients: the norm mmengine logs is over every parameter's grad
    grad_norm = MessageHub.get_current_instance().get_scalar('train/grad_norm').current()
    assert 0 < grad_norm < float('inf')
    assert all(torch.isfinite(p).all() and p.dtype == torch.float32 for p in model.parameters())
    changed = sum(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert changed > len(before) // 2
    # the patch lasted the step only: mmcv's own Functions again
    assert not hasattr(mmcv_roi_align.RoIAlignFunction, '_mmcoc_float32_under_cpu_autocast')


def test_rpn_losses_in_bf16_match_float32():
    cfg = Config.fromfile(DEMO)
    data = demo_batch()
    full = rpn_losses(cfg.copy(), data)
    half = rpn_losses(use_amp(cfg), data)
    for name, value in full.items():
        assert abs(half[name] - value) <= 0.02 * value, (name, value, half[name])
