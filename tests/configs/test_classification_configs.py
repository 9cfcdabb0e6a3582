"""The ImageNet configs carry the published Context-Cluster recipe on mmpretrain's bases."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmcoc.datasets import CLASSES
from mmcoc.models import ContextCluster

CONFIGS = Path(__file__).parents[2] / 'configs' / 'context_cluster'
HEAD_CHANNELS = {'tiny': 320, 'tiny_plain': 320, 'small': 512, 'medium': 512}


@pytest.mark.parametrize('arch', sorted(HEAD_CHANNELS))
def test_imagenet_config_has_the_published_recipe(arch):
    cfg = Config.fromfile(str(CONFIGS / f'coc_{arch}_in1k.py'))
    model = cfg.model
    assert model.type == 'ImageClassifier' and model.backbone.type == 'mmcoc.ContextCluster'
    assert model.backbone.arch == arch and model.backbone.out_indices == 3
    assert model.backbone.drop_path_rate == 0.1
    assert model.backbone.cluster_normalizer == 'similarity'  # today's ImageNet weights'
    assert model.neck.type == 'GlobalAveragePooling'
    assert model.head.in_channels == HEAD_CHANNELS[arch] and model.head.num_classes == 1000
    assert model.head.loss == dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')
    assert model.train_cfg.augments == [dict(type='Mixup', alpha=0.8),
                                        dict(type='CutMix', alpha=1.0)]
    opt = cfg.optim_wrapper.optimizer
    assert opt.type == 'AdamW' and opt.lr == 1e-3 and opt.weight_decay == 0.05
    assert cfg.optim_wrapper.paramwise_cfg.norm_decay_mult == 0.0
    assert cfg.optim_wrapper.paramwise_cfg.flat_decay_mult == 0.0  # layer scales, alpha, beta
    assert cfg.train_dataloader.batch_size * 8 == cfg.auto_scale_lr.base_batch_size == 1024
    warmup, cosine = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and warmup.end == 5 and warmup.start_factor == 1e-3
    assert cosine.type == 'CosineAnnealingLR' and cosine.eta_min == 1e-5
    assert (cosine.begin, cosine.end, cfg.train_cfg.max_epochs) == (5, 300, 310)
    assert cfg.custom_hooks == [dict(type='EMAHook', momentum=1e-4, priority='ABOVE_NORMAL')]
    train = [t.type for t in cfg.train_pipeline]
    assert train == ['LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip', 'RandAugment',
                     'RandomErasing', 'PackInputs']
    assert cfg.train_pipeline[1].scale == 224 and cfg.train_pipeline[4].erase_prob == 0.25
    resize, crop = cfg.test_pipeline[1], cfg.test_pipeline[2]
    assert crop.crop_size == 224 and resize.scale == int(224 / 0.9)  # crop ratio 0.9
    assert cfg.data_preprocessor.to_rgb  # the model sees RGB, as timm's training did
    assert cfg.default_scope == 'mmpretrain' and cfg.custom_imports.imports == ['mmcoc']


def test_imagenet_config_builds_the_official_classifier():
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(str(CONFIGS / 'coc_small_in1k.py'))
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model).eval()
    assert isinstance(model.backbone, ContextCluster)
    assert sum(p.numel() for p in model.parameters()) == 14_657_024  # the reference's count
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64), mode='tensor').shape == (1, 1000)


def test_classification_demo_config_matches_the_demo_data():
    cfg = Config.fromfile(str(CONFIGS.parent / 'demo' / 'coc_tiny_plain_cls_demo.py'))
    assert list(cfg.classes) == sorted(CLASSES)  # class folders, as CustomDataset sorts them
    assert cfg.model.head.num_classes == len(CLASSES)
    assert cfg.model.backbone.arch == 'tiny_plain'
    assert cfg.model.backbone.init_cfg.type == 'Kaiming'  # random init: nothing to download
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        assert loader.dataset.data_root == 'data/demo_shapes_cls'


def test_classification_demo_initialisation_makes_blocks_act_from_the_start():
    """The demo's backbone init_cfg (Kaiming, layer scale 1, BatchNorm) reaches the modules:
    ContextCluster applies any non-Pretrained init_cfg after its own truncated-normal init."""
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(str(CONFIGS.parent / 'demo' / 'coc_tiny_plain_cls_demo.py'))
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    model.init_weights()
    block = model.backbone.stages[0].blocks[0]
    assert isinstance(block.norm1, torch.nn.BatchNorm2d)
    assert torch.equal(block.layer_scale_1.detach(), torch.ones_like(block.layer_scale_1))
    fc1 = block.mlp.fc1.weight  # [256, 32]: Kaiming-normal std sqrt(2 / 32) = 0.25
    assert abs(fc1.std().item() - (2 / fc1.shape[1]) ** 0.5) < 0.02
    assert abs(model.head.fc.weight.std().item() - 0.02) < 0.005  # the head keeps TruncNormal
