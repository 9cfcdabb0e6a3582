"""mmcoc.engine.amp_compat: mmcv's nms and RoIAlign under CPU bfloat16 autocast compute what
they compute in float32 on the same (bfloat16-rounded) inputs, and nothing changes outside
autocast; the patch exists only after ``apply_float32_mmcv_ops`` and is undone by
``restore_mmcv_ops``."""
import importlib

import pytest
import torch
from mmcv.ops import RoIAlign, nms
from torchvision.ops import roi_align as torchvision_roi_align

from mmcoc.engine import amp_compat
from mmcoc.engine.amp_compat import apply_float32_mmcv_ops, restore_mmcv_ops

BF16 = dict(device_type='cpu', dtype=torch.bfloat16)


def random_boxes(n, size=100.0):
    xy = torch.rand(n, 2) * size
    return torch.cat([xy, xy + 4 + torch.rand(n, 2) * size / 4], dim=1)


def mmcv_functions():
    return [getattr(importlib.import_module(m), c) for m, c in
            (('mmcv.ops.nms', 'NMSop'), ('mmcv.ops.roi_align', 'RoIAlignFunction'))]


@pytest.fixture
def patched():
    apply_float32_mmcv_ops()
    yield
    restore_mmcv_ops()


def test_patch_is_explicit_idempotent_and_undone():
    functions = mmcv_functions()
    before = [dict(vars(f)) for f in functions]
    assert not any(hasattr(f, amp_compat._MARK) for f in functions)
    names = apply_float32_mmcv_ops()
    assert names == ['mmcv.ops.nms.NMSop', 'mmcv.ops.roi_align.RoIAlignFunction']
    patched = [(f.forward, f.backward) for f in functions]
    apply_float32_mmcv_ops()
    assert [(f.forward, f.backward) for f in functions] == patched  # not wrapped twice
    restore_mmcv_ops()
    assert [dict(vars(f)) for f in functions] == before  # mmcv's own objects again


def test_patch_refuses_an_mmcv_it_was_not_written_for(monkeypatch):
    import mmcv
    monkeypatch.setattr(mmcv, '__version__', '2.2.0')
    with pytest.raises(RuntimeError, match='written for mmcv 2.0 / 2.1.x; this is mmcv 2.2.0'):
        apply_float32_mmcv_ops()
    assert not any(hasattr(f, amp_compat._MARK) for f in mmcv_functions())


def test_nms_under_bf16_autocast_keeps_what_float32_keeps(patched):
    torch.manual_seed(0)
    boxes = random_boxes(200).bfloat16()
    scores = torch.rand(200).bfloat16()
    with pytest.raises(RuntimeError, match='Float'):  # outside autocast: mmcv as it is
        nms(boxes, scores, 0.5)
    with torch.autocast(**BF16):
        dets, keep = nms(boxes, scores, 0.5)
    _, expected = nms(boxes.float(), scores.float(), 0.5)
    assert torch.equal(keep, expected) and 0 < len(keep) < 200
    assert torch.equal(dets[:, :4], boxes[keep])


def test_mmcv_roi_align_under_bf16_autocast_matches_float32_and_torchvision(patched):
    torch.manual_seed(0)
    feats = torch.randn(2, 8, 24, 24).bfloat16().requires_grad_()
    rois = torch.cat([torch.tensor([[0.0], [1.0], [1.0]]), random_boxes(3, 80)], dim=1)
    layer = RoIAlign(7, spatial_scale=0.25, sampling_ratio=2, aligned=True)
    with torch.autocast(**BF16):
        out = layer(feats, rois)
        reference = torchvision_roi_align(feats, rois, 7, 0.25, 2, aligned=True)
    assert out.dtype == torch.bfloat16  # the caller's dtype, as torchvision's autocast kernel
    assert torch.equal(out, reference)
    weights = torch.randn(out.shape)
    (out.float() * weights).sum().backward()
    assert feats.grad.dtype == torch.bfloat16 and torch.isfinite(feats.grad).all()

    full = feats.detach().float().requires_grad_()
    expected = layer(full, rois)
    (expected * weights).sum().backward()
    assert torch.equal(out, expected.bfloat16())
    torch.testing.assert_close(feats.grad.float(), full.grad, rtol=2e-2, atol=2e-2)


def test_float32_calls_are_unchanged():
    torch.manual_seed(0)
    feats = torch.randn(1, 4, 16, 16, requires_grad=True)
    rois = torch.cat([torch.zeros(2, 1), random_boxes(2, 60)], dim=1)
    out = RoIAlign(5, spatial_scale=0.25, sampling_ratio=2)(feats, rois)
    assert out.dtype == torch.float32
    apply_float32_mmcv_ops()
    try:
        assert torch.equal(out, RoIAlign(5, spatial_scale=0.25, sampling_ratio=2)(feats, rois))
    finally:
        restore_mmcv_ops()
    out.sum().backward()
    assert feats.grad.dtype == torch.float32


def test_scoped_patch_lasts_the_outermost_block_also_when_it_raises():
    functions = mmcv_functions()
    before = [dict(vars(f)) for f in functions]
    with pytest.raises(KeyError):
        with amp_compat.float32_mmcv_ops():
            with amp_compat.float32_mmcv_ops():
                assert all(hasattr(f, amp_compat._MARK) for f in functions)
            assert all(hasattr(f, amp_compat._MARK) for f in functions)  # inner: kept
            raise KeyError('step failed')
    assert [dict(vars(f)) for f in functions] == before
