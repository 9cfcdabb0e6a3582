"""The ScanObjectNN configs carry the official PointMLP_CoC recipe and build the official
network; the label smoothing equals the official loss."""
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmcoc.utils.config import build_model

CONFIGS = Path(__file__).parents[2] / 'configs' / 'pointcloud'


def official_cal_loss(pred, gold, eps=0.2):
    """utils/misc.py cal_loss with smoothing (its default, what main.py trains with)."""
    one_hot = torch.zeros_like(pred).scatter(1, gold.view(-1, 1), 1)
    one_hot = one_hot * (1 - eps) + (1 - one_hot) * eps / (pred.size(1) - 1)
    return -(one_hot * F.log_softmax(pred, dim=1)).sum(dim=1).mean()


@pytest.mark.parametrize('name,clusters,params', [
    ('pointmlp_coc_scanobjectnn', True, 15_326_815), ('pointmlp_scanobjectnn', False, 13_232_079)])
def test_published_recipe(name, clusters, params):
    cfg = Config.fromfile(str(CONFIGS / f'{name}.py'))
    assert cfg.runner_type == 'mmcoc.RecoverableRunner' and cfg.default_scope == 'mmpretrain'
    backbone = cfg.model.backbone
    assert backbone.type == 'mmcoc.PointMLP' and backbone.context_cluster is clusters
    assert (backbone.points, backbone.embed_dim, backbone.k_neighbors) == (1024, 64, (24, ) * 4)
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum, opt.weight_decay) == ('SGD', 0.01, 0.9, 1e-4)
    assert 'paramwise_cfg' not in cfg.optim_wrapper  # decay on every parameter, as official
    (cosine, ) = cfg.param_scheduler
    assert cosine.type == 'CosineAnnealingLR' and cosine.by_epoch
    assert (cosine.T_max, cosine.eta_min, cfg.train_cfg.max_epochs) == (250, 1e-4, 250)
    train = cfg.train_dataloader
    assert train.batch_size == 32 and train.drop_last and train.dataset.split == 'training'
    assert train.dataset.num_points == 1024 and cfg.val_dataloader.dataset.split == 'test'
    assert [t.type for t in train.dataset.pipeline] == [
        'mmcoc.RandomScaleShiftPoints', 'mmcoc.ShufflePoints', 'mmcoc.PackPointCloudInputs']
    assert [e.type for e in cfg.val_evaluator] == ['Accuracy', 'mmcoc.MeanClassAccuracy']
    model = build_model(cfg)
    assert sum(p.numel() for p in model.parameters()) == params
    # the official loss, smoothed as main.py trains (cal_loss's default eps 0.2)
    init_default_scope('mmpretrain')
    logits, labels = torch.randn(8, 15), torch.randint(0, 15, (8, ))
    torch.testing.assert_close(model.head.loss_module(logits, labels),
                               official_cal_loss(logits, labels))


def test_demo_config_scales_the_model_down():
    cfg = Config.fromfile(str(CONFIGS / 'pointmlp_coc_demo.py'))
    model = build_model(cfg)
    assert model.backbone.points == 256 and model.head.num_classes == 10
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    assert cfg.train_dataloader.dataset.metainfo.classes[0] == 'sphere'


def test_an_official_checkpoint_loads_through_official_key():
    cfg = Config.fromfile(str(CONFIGS / 'pointmlp_coc_demo.py'))
    trained, fresh = build_model(cfg).eval(), build_model(cfg).eval()
    # the official main.py saves nn.DataParallel's state: 'module.' + the official names
    official = {'module.' + k.split('.', 1)[1]: v for k, v in trained.state_dict().items()
                if not k.startswith('data_preprocessor.')}
    assert 'module.classifier.0.weight' in official
    assert 'module.pre_blocks_list.0.operation.0.fc1.weight' in official
    from mmcoc.models.pointcloud import official_key
    fresh.load_state_dict({official_key(k): v for k, v in official.items()}, strict=True)
    xyz = torch.rand(2, 256, 3)
    with torch.no_grad():
        torch.testing.assert_close(fresh(xyz), trained(xyz))
