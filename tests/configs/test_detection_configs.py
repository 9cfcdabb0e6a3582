from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmcoc.models import ContextCluster

CONFIGS = Path(__file__).parents[2] / 'configs' / 'context_cluster'
# config -> (arch, centers per side)
PUBLISHED = {
    'coc_small_maskrcnn_coco.py': ('small', 2),
    'coc_small_25_maskrcnn_coco.py': ('small', 5),
    'coc_small_49_maskrcnn_coco.py': ('small', 7),
    'coc_medium_maskrcnn_coco.py': ('medium', 2),
    'coc_medium_25_maskrcnn_coco.py': ('medium', 5),
    'coc_medium_49_maskrcnn_coco.py': ('medium', 7),
}


@pytest.mark.parametrize('name', sorted(PUBLISHED))
def test_coco_config_has_the_published_settings(name):
    cfg = Config.fromfile(str(CONFIGS / name))
    arch, proposals = PUBLISHED[name]
    backbone = cfg.model.backbone
    assert backbone.type == 'mmcoc.ContextCluster' and backbone.arch == arch
    assert backbone.proposals == proposals and backbone.folds == [8, 4, 2, 1]
    assert backbone.init_cfg == dict(type='Pretrained',
                                     checkpoint=f'checkpoints/coc_{arch}.pth.tar')
    assert cfg.model.neck.in_channels == [64, 128, 320, 512]
    assert cfg.optim_wrapper.optimizer == dict(type='AdamW', lr=2e-4, weight_decay=1e-4)
    # the official coco_instance.py: 4 images per GPU, on 8 GPUs
    assert cfg.train_cfg.max_epochs == 12 and cfg.train_dataloader.batch_size == 4
    assert cfg.auto_scale_lr.base_batch_size == 32
    assert cfg.train_dataloader.dataset.data_root == 'data/coco/'
    assert cfg.custom_imports.imports == ['mmcoc'] and cfg.default_scope == 'mmdet'


def test_coco_config_builds_and_names_a_missing_checkpoint():
    cfg = Config.fromfile(str(CONFIGS / 'coc_small_25_maskrcnn_coco.py'))
    from mmdet.registry import MODELS
    init_default_scope('mmdet')
    detector = MODELS.build(cfg.model)
    assert isinstance(detector.backbone, ContextCluster)
    assert {m.proposals for m in detector.backbone.modules() if hasattr(m, 'proposals')} == {5}
    with pytest.raises(FileNotFoundError, match='checkpoints/coc_small.pth.tar'):
        detector.backbone.init_weights()


def test_demo_config_matches_the_demo_data():
    from mmcoc.datasets import CLASSES
    cfg = Config.fromfile(str(CONFIGS.parent / 'demo' / 'coc_tiny_maskrcnn_demo.py'))
    assert cfg.metainfo['classes'] == CLASSES and len(cfg.metainfo['palette']) == len(CLASSES)
    roi_head = cfg.model.roi_head
    assert roi_head.bbox_head.num_classes == roi_head.mask_head.num_classes == len(CLASSES)
    assert cfg.model.backbone.arch == 'tiny'
    assert cfg.model.backbone.get('init_cfg') is None  # random init: the demo downloads nothing
    assert cfg.train_dataloader.dataset.data_root == 'data/demo_shapes/'


def test_the_users_own_command_path_builds_the_published_model():
    """``python tools/train.py configs/coc_small_maskrcnn_coco.py``: that exact path."""
    cfg = Config.fromfile(str(CONFIGS.parents[1] / 'configs/coc_small_maskrcnn_coco.py'))
    family = Config.fromfile(str(CONFIGS / 'coc_small_maskrcnn_coco.py'))
    assert cfg.to_dict() == family.to_dict()
    assert cfg.runner_type == 'mmcoc.RecoverableRunner'
    from mmdet.registry import MODELS
    init_default_scope('mmdet')
    detector = MODELS.build(cfg.model)
    assert isinstance(detector.backbone, ContextCluster)
    assert sum(p.numel() for p in detector.backbone.parameters()) > 10_000_000  # CoC-small


def test_released_checkpoints_evaluate_with_the_documented_override():
    # the configs fine-tune today's ImageNet weights ('similarity'); the released Mask R-CNN
    # checkpoints (2023-03) need 'count', given on the command line as the README says
    import argparse

    from mmengine.config import DictAction

    from mmcoc.utils.config import build_model, load_config
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(['--cfg-options', 'model.backbone.cluster_normalizer=count'])
    config = str(CONFIGS / 'coc_small_maskrcnn_coco.py')
    assert Config.fromfile(config).model.backbone.cluster_normalizer == 'similarity'
    backbone = build_model(load_config(config, cfg_options=args.cfg_options)).backbone
    assert backbone.cluster_normalizer == 'count'
    assert {m.normalizer for m in backbone.modules() if hasattr(m, 'normalizer')} == {'count'}


def test_fsdp_config_is_the_published_model_under_the_flexible_runner():
    cfg = Config.fromfile(str(CONFIGS / 'coc_medium_maskrcnn_coco_fsdp.py'))
    plain = Config.fromfile(str(CONFIGS / 'coc_medium_maskrcnn_coco.py'))
    assert cfg.model == plain.model and cfg.optim_wrapper == plain.optim_wrapper
    assert cfg.train_dataloader.batch_size == plain.train_dataloader.batch_size
    assert cfg.runner_type == 'mmcoc.RecoverableFlexibleRunner'
    assert cfg.strategy.type == 'FSDPStrategy'
    assert cfg.strategy.model_wrapper.auto_wrap_policy.type == 'mmcoc.wrap_clustering_blocks'
