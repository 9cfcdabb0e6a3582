"""The FEC configs carry the released settings and build working models."""
from pathlib import Path

import pytest
import timm
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmcoc.datasets import CLASSES
from mmcoc.models import FEC

CONFIGS = Path(__file__).parents[2] / 'configs' / 'fec'
CHANNELS = {'small': [32, 64, 196, 320], 'base': [64, 128, 320, 512],
            'large': [64, 128, 320, 512]}


@pytest.mark.parametrize('arch', sorted(CHANNELS))
def test_imagenet_configs_have_the_released_recipe(arch):
    cfg = Config.fromfile(str(CONFIGS / f'fec_{arch}_in1k.py'))
    backbone = cfg.model.backbone
    assert backbone == dict(type='mmcoc.FEC', arch=arch, out_indices=3, drop_path_rate=0.1)
    assert cfg.model.head.in_channels == CHANNELS[arch][-1]
    assert cfg.model.head.num_classes == 1000
    assert cfg.model.train_cfg.augments == [dict(type='Mixup', alpha=0.8),
                                            dict(type='CutMix', alpha=1.0)]
    assert cfg.optim_wrapper.optimizer.lr == 1e-3
    assert cfg.optim_wrapper.optimizer.weight_decay == 0.05
    assert cfg.train_dataloader.batch_size * 8 == cfg.auto_scale_lr.base_batch_size == 1024
    warmup, cosine = cfg.param_scheduler
    assert warmup.end == 5 and (cosine.begin, cosine.end, cosine.eta_min) == (5, 300, 1e-6)
    assert cfg.train_cfg.max_epochs == 310 and cfg.custom_hooks == []
    assert cfg.default_scope == 'mmpretrain' and cfg.custom_imports.imports == ['mmcoc']


@pytest.mark.parametrize('arch', sorted(CHANNELS))
def test_coco_configs_have_the_released_settings(arch):
    cfg = Config.fromfile(str(CONFIGS / f'fec_{arch}_maskrcnn_coco.py'))
    backbone = cfg.model.backbone
    assert backbone.type == 'mmcoc.FEC' and backbone.arch == arch
    assert backbone.proposals == 7 and backbone.folds == [2, 2, 1, 1]
    assert backbone.out_indices == (0, 1, 2, 3)
    assert backbone.init_cfg == dict(type='Pretrained',
                                     checkpoint=f'checkpoints/fec_{arch}.pth.tar')
    assert cfg.model.neck.in_channels == CHANNELS[arch]
    assert cfg.optim_wrapper.optimizer == dict(type='AdamW', lr=2e-4, weight_decay=1e-4)
    warmup, steps = cfg.param_scheduler
    assert warmup.end == 500 and not warmup.by_epoch
    assert steps.milestones == [8, 9, 11] and steps.gamma == 0.2
    # the official detection/cmds/train.sh and coco_instance.py: 4 GPUs x 4 images
    assert cfg.train_cfg.max_epochs == 12 and cfg.train_dataloader.batch_size == 4
    assert cfg.auto_scale_lr.base_batch_size == 16
    assert cfg.custom_imports.imports == ['mmcoc'] and cfg.default_scope == 'mmdet'


@pytest.mark.parametrize('arch', sorted(CHANNELS))
def test_ade20k_configs_have_the_released_settings(arch):
    cfg = Config.fromfile(str(CONFIGS / f'fec_{arch}_fpn_ade20k.py'))
    model = cfg.model
    assert model.type == 'mmcoc.MemoryBoundedEncoderDecoder' and model.pretrained is None
    assert model.backbone.type == 'mmcoc.FEC' and model.backbone.arch == arch
    assert model.backbone.proposals == [10, 10, 5, 5] and model.backbone.folds == 1
    assert model.backbone.init_cfg == dict(type='Pretrained',
                                           checkpoint=f'checkpoints/fec_{arch}.pth.tar')
    assert model.neck.in_channels == CHANNELS[arch]
    assert model.decode_head.num_classes == 150 and model.data_preprocessor.size == (512, 512)
    assert cfg.optim_wrapper.optimizer == dict(type='AdamW', lr=1e-4, weight_decay=1e-4)
    # the official segmentation/cmds/train.sh and ade20k.py: 4 GPUs x 4 images
    assert cfg.train_cfg.max_iters == 80000 and cfg.train_dataloader.batch_size == 4
    assert cfg.auto_scale_lr.base_batch_size == 16
    assert cfg.custom_imports.imports == ['mmcoc'] and cfg.default_scope == 'mmseg'


def test_imagenet_config_builds_the_released_classifier():
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(str(CONFIGS / 'fec_small_in1k.py'))
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model).eval()
    assert isinstance(model.backbone, FEC)
    from mmcoc.models.layers import count_released_parameters
    # the reference's count: its frozen conv_f are parameters there, buffers here
    assert count_released_parameters(model) == 5_727_528
    assert sum(p.numel() for p in model.parameters()) == 5_727_528 - 77_892
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64), mode='tensor').shape == (1, 1000)


def test_coco_config_builds_a_detector_that_trains_and_names_a_missing_checkpoint():
    from mmdet.registry import MODELS
    from mmdet.testing import demo_mm_inputs
    cfg = Config.fromfile(str(CONFIGS / 'fec_small_maskrcnn_coco.py'))
    init_default_scope('mmdet')
    detector = MODELS.build(cfg.model)
    assert isinstance(detector.backbone, FEC)
    with pytest.raises(FileNotFoundError, match='checkpoints/fec_small.pth.tar'):
        detector.backbone.init_weights()
    data = detector.data_preprocessor(demo_mm_inputs(1, [(3, 99, 131)], with_mask=True), True)
    loss, _ = detector.parse_losses(detector(**data, mode='loss'))
    assert torch.isfinite(loss)


def test_ade20k_config_builds_a_segmentor():
    from mmseg.registry import MODELS
    cfg = Config.fromfile(str(CONFIGS / 'fec_base_fpn_ade20k.py'))
    cfg.model.decode_head.norm_cfg = dict(type='BN', requires_grad=True)  # no SyncBN on CPU
    init_default_scope('mmseg')
    segmentor = MODELS.build(cfg.model).eval()
    assert isinstance(segmentor.backbone, FEC)
    with torch.no_grad():
        logits = segmentor(torch.randn(1, 3, 97, 75), mode='tensor')
    assert logits.shape == (1, 150, 24, 18)  # the stride-4 map of a 97x75 image


def test_classification_demo_config_builds_an_fec_classifier():
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(str(CONFIGS.parent / 'demo' / 'fec_small_cls_demo.py'))
    assert cfg.model.backbone.get('init_cfg') is None  # random init: nothing to download
    assert list(cfg.classes) == sorted(CLASSES)
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model).eval()
    assert isinstance(model.backbone, FEC) and model.backbone.arch['layers'] == [3, 4, 5, 2]
    with torch.no_grad():
        assert model(torch.randn(2, 3, 64, 64), mode='tensor').shape == (2, len(CLASSES))


def test_official_weights_convert_for_the_imagenet_config():
    from mmpretrain.registry import MODELS

    from mmcoc.models import convert_checkpoint
    from mmcoc.testing import official_classification, perturbed
    torch.manual_seed(0)
    source = perturbed(timm.create_model('fec_small', num_classes=1000)).eval()
    state_dict, report = convert_checkpoint(official_classification(source), 'auto')
    assert report.layout == 'mmpretrain' and not report.dropped
    cfg = Config.fromfile(str(CONFIGS / 'fec_small_in1k.py'))
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model).eval()
    model.load_state_dict(state_dict, strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x, mode='tensor'), source(x))
