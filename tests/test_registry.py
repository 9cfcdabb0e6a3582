
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope

import mmcoc
from mmcoc.models import ContextCluster


def test_registered_in_its_own_scope():
    assert mmcoc.MODELS.scope == 'mmcoc'
    assert mmcoc.MODELS.get('ContextCluster') is ContextCluster


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg', 'mmpretrain'])
def test_builds_from_downstream_registries(scope):
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    with DefaultScope.overwrite_default_scope(scope):
        model = registry.build(dict(type='mmcoc.ContextCluster', arch='tiny', out_indices=(0, 3)))
    assert isinstance(model, ContextCluster) and model.out_indices == (0, 3)


def test_mask_rcnn_from_mmdet_bases_with_custom_imports(tmp_path):
    cfg_file = tmp_path / 'mask_rcnn_coc.py'
    cfg_file.write_text(
        "_base_ = 'mmdet::_base_/models/mask-rcnn_r50_fpn.py'\n"
        "custom_imports = dict(imports=['mmcoc'], allow_failed_imports=False)\n"
        "model = dict(backbone=dict(_delete_=True, type='mmcoc.ContextCluster', arch='tiny',\n"
        "                           proposals=5, out_indices=(0, 1, 2, 3)),\n"
        "             neck=dict(in_channels=[32, 64, 196, 320]))\n")
    cfg = Config.fromfile(str(cfg_file))
    from mmdet.registry import MODELS
    from mmdet.testing import demo_mm_inputs
    init_default_scope('mmdet')
    detector = MODELS.build(cfg.model)
    assert isinstance(detector.backbone, ContextCluster)
    packed = demo_mm_inputs(1, [(3, 96, 128)], with_mask=True)
    data = detector.data_preprocessor(packed, True)
    losses = detector(**data, mode='loss')
    total = sum(v for k, v in losses.items() if 'loss' in k and isinstance(v, torch.Tensor))
    total.backward()
    assert torch.isfinite(total)
    assert detector.backbone.patch_embed.proj.weight.grad is not None


def test_semantic_fpn_from_mmseg_bases(tmp_path):
    cfg_file = tmp_path / 'fpn_coc.py'
    cfg_file.write_text(
        "_base_ = 'mmseg::_base_/models/fpn_r50.py'\n"
        "custom_imports = dict(imports=['mmcoc'], allow_failed_imports=False)\n"
        "norm_cfg = dict(type='BN', requires_grad=True)\n"
        "model = dict(pretrained=None,\n"
        "             backbone=dict(_delete_=True, type='mmcoc.ContextCluster', arch='tiny',\n"
        "                           out_indices=(0, 1, 2, 3)),\n"
        "             neck=dict(in_channels=[32, 64, 196, 320]),\n"
        "             decode_head=dict(num_classes=5, norm_cfg=norm_cfg))\n")
    cfg = Config.fromfile(str(cfg_file))
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    segmentor = MODELS.build(cfg.model)
    segmentor.eval()
    with torch.no_grad():
        logits = segmentor(torch.randn(1, 3, 64, 96), mode='tensor')
    assert logits.shape == (1, 5, 16, 24)
