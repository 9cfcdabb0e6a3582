from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmcoc.datasets import SEMANTIC_CLASSES
from mmcoc.models import ContextCluster

CONFIGS = Path(__file__).parents[2] / 'configs' / 'context_cluster'
# config -> (arch, centers per side)
PUBLISHED = {
    'coc_small_fpn_ade20k.py': ('small', 2),
    'coc_small_25_fpn_ade20k.py': ('small', 5),
    'coc_small_49_fpn_ade20k.py': ('small', 7),
    'coc_medium_fpn_ade20k.py': ('medium', 2),
    'coc_medium_25_fpn_ade20k.py': ('medium', 5),
    'coc_medium_49_fpn_ade20k.py': ('medium', 7),
}


@pytest.mark.parametrize('name', sorted(PUBLISHED))
def test_ade20k_config_has_the_published_settings(name):
    cfg = Config.fromfile(str(CONFIGS / name))
    arch, proposals = PUBLISHED[name]
    model = cfg.model
    assert model.type == 'mmcoc.MemoryBoundedEncoderDecoder' and model.pretrained is None
    assert model.backbone.type == 'mmcoc.ContextCluster' and model.backbone.arch == arch
    assert model.backbone.proposals == proposals and model.backbone.folds == [8, 4, 2, 1]
    assert model.backbone.init_cfg == dict(type='Pretrained',
                                           checkpoint=f'checkpoints/coc_{arch}.pth.tar')
    assert model.neck.in_channels == [64, 128, 320, 512]
    assert model.decode_head.type == 'mmcoc.StableResizeFPNHead'
    assert model.decode_head.num_classes == 150
    assert model.decode_head.norm_cfg.type == 'SyncBN'  # made BN by the tools where needed
    assert model.data_preprocessor.size == (512, 512)
    assert cfg.optim_wrapper.optimizer == dict(type='AdamW', lr=1e-4, weight_decay=1e-4)
    [poly] = cfg.param_scheduler
    assert poly.type == 'PolyLR' and poly.power == 0.9 and poly.end == 80000
    assert poly.eta_min == 0 and not poly.by_epoch
    assert cfg.train_cfg.max_iters == 80000 and cfg.train_dataloader.batch_size == 4
    assert cfg.auto_scale_lr.base_batch_size == 32
    dataset = cfg.train_dataloader.dataset
    assert dataset.type == 'ADE20KDataset'
    assert dataset.data_root == 'data/ade/ADEChallengeData2016'
    assert cfg.custom_imports.imports == ['mmcoc'] and cfg.default_scope == 'mmseg'


def test_ade20k_config_builds_and_names_a_missing_checkpoint():
    cfg = Config.fromfile(str(CONFIGS / 'coc_medium_49_fpn_ade20k.py'))
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    segmentor = MODELS.build(cfg.model)
    assert isinstance(segmentor.backbone, ContextCluster)
    assert {m.proposals for m in segmentor.backbone.modules() if hasattr(m, 'proposals')} == {7}
    with pytest.raises(FileNotFoundError, match='checkpoints/coc_medium.pth.tar'):
        segmentor.backbone.init_weights()


def test_segmentation_demo_config_matches_the_demo_data():
    cfg = Config.fromfile(str(CONFIGS.parent / 'demo' / 'coc_tiny_fpn_demo.py'))
    assert cfg.metainfo['classes'] == SEMANTIC_CLASSES
    assert len(cfg.metainfo['palette']) == len(SEMANTIC_CLASSES)
    assert cfg.model.decode_head.num_classes == len(SEMANTIC_CLASSES)
    assert cfg.model.backbone.arch == 'tiny' and cfg.model.backbone.get('init_cfg') is None
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        assert loader.dataset.data_root == 'data/demo_shapes_ade/'
        assert loader.dataset.reduce_zero_label  # 0 = clutter, ignored
