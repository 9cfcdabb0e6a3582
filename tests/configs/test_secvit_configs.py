"""The SecViT configs: the published classification recipe, dense models that build and run."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope

from mmcoc.models import SecViT

CONFIGS = Path(__file__).parents[2] / 'configs' / 'secvit'


@pytest.mark.parametrize('arch', ['t', 's', 'b', 'l'])
def test_imagenet_config_has_the_published_recipe(arch):
    cfg = Config.fromfile(str(CONFIGS / f'secvit_{arch}_in1k.py'))
    model = cfg.model
    assert model.backbone.type == 'mmcoc.SecViT' and model.backbone.arch == arch
    assert model.backbone.out_indices == 3 and model.backbone.norm_outputs is False
    assert model.neck == dict(type='mmcoc.SecViTNeck', in_channels=640 if arch == 'l' else 512)
    assert model.head.in_channels == 1024 and model.head.num_classes == 1000
    assert model.head.loss == dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')
    assert model.train_cfg.augments == [dict(type='Mixup', alpha=0.8),
                                        dict(type='CutMix', alpha=1.0)]
    opt = cfg.optim_wrapper.optimizer
    assert opt.type == 'AdamW' and opt.lr == 1e-3 and opt.weight_decay == 0.05
    assert cfg.optim_wrapper.paramwise_cfg.flat_decay_mult == 0.0  # layer scales
    assert cfg.train_dataloader.batch_size * 8 == cfg.auto_scale_lr.base_batch_size == 1024
    assert cfg.train_dataloader.sampler.type == 'RepeatAugSampler'
    warmup, cosine = cfg.param_scheduler
    assert (warmup.end, warmup.start_factor) == (5, 1e-3)
    assert (cosine.begin, cosine.end, cosine.eta_min) == (5, 300, 1e-5)
    assert cfg.train_cfg.max_epochs == 300
    assert [t.type for t in cfg.train_pipeline] == [
        'LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip', 'RandAugment', 'RandomErasing',
        'PackInputs']
    assert cfg.test_pipeline[1].scale == 256 and cfg.test_pipeline[2].crop_size == 224


def test_imagenet_config_builds_the_official_classifier():
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(str(CONFIGS / 'secvit_t_in1k.py'))
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model).eval()
    assert sum(p.numel() for p in model.parameters()) == 14_981_800  # the official count
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 48), mode='tensor').shape == (1, 1000)


@pytest.mark.parametrize('name,scope,arch', [
    ('secvit_t_maskrcnn_coco.py', 'mmdet', 't'),
    ('secvit_s_maskrcnn_coco.py', 'mmdet', 's'),
    ('secvit_t_fpn_ade20k.py', 'mmseg', 't'),
    ('secvit_s_fpn_ade20k.py', 'mmseg', 's'),
])
def test_dense_configs_build_run_and_name_a_missing_checkpoint(name, scope, arch):
    cfg = Config.fromfile(str(CONFIGS / name))
    backbone = cfg.model.backbone
    assert backbone.arch == arch and backbone.out_indices == (0, 1, 2, 3)
    assert backbone.init_cfg.checkpoint == f'checkpoints/secvit_{arch}.pth'
    assert cfg.model.neck.in_channels == [64, 128, 256, 512]
    assert cfg.custom_imports.imports == ['mmcoc'] and cfg.default_scope == scope
    # no official dense recipe: Context-Cluster's schedules, 8 GPUs x 4 images
    assert cfg.train_dataloader.batch_size * 8 == cfg.auto_scale_lr.base_batch_size == 32
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    init_default_scope(scope)
    model = revert_sync_batchnorm(registry.build(cfg.model)).eval()  # SyncBN -> BN on a CPU
    assert isinstance(model.backbone, SecViT)
    with torch.no_grad():
        feats = model.extract_feat(torch.randn(1, 3, 72, 100))  # not a multiple of 32
    assert [f.shape[1] for f in feats] == [256] * (5 if scope == 'mmdet' else 4)
    with pytest.raises(FileNotFoundError, match=f'checkpoints/secvit_{arch}.pth'):
        model.backbone.init_weights()


def test_demo_config_builds_and_learns_a_step():
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    cfg = Config.fromfile(str(CONFIGS.parent / 'demo' / 'secvit_t_cls_demo.py'))
    assert cfg.model.backbone.get('init_cfg') is None  # random init: nothing to download
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    assert model.head.num_classes == 4
    samples = [DataSample().set_gt_label(i % 4) for i in range(4)]
    losses = model(torch.randn(4, 3, 64, 64), samples, mode='loss')
    losses['loss'].backward()
    assert torch.isfinite(losses['loss'])
    assert model.backbone.layers[0].blocks[0].attn.qkv.weight.grad.abs().sum() > 0
