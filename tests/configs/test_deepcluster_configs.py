"""Every DeepCluster config builds; pretraining configs re-cluster, probes freeze the backbone."""
from pathlib import Path

import pytest

from mmcoc.utils.config import build_model, load_config

CONFIGS = Path(__file__).parents[2] / 'configs' / 'deepcluster'
PRETRAIN = sorted(CONFIGS.glob('deepcluster_*.py'))
PROBES = sorted(CONFIGS.glob('linear_probe_*.py'))


@pytest.mark.parametrize('path', PRETRAIN, ids=lambda p: p.stem)
def test_pretraining_configs_pair_the_model_with_hook_and_sampler(path):
    cfg = load_config(str(path))
    model = build_model(cfg)
    assert type(model).__name__ == 'DeepCluster'
    assert model.num_clusters == (32 if path.stem.endswith('_demo') else 10000)
    assert [h['type'] for h in cfg.custom_hooks] == ['mmcoc.DeepClusterHook']
    assert cfg.train_dataloader.sampler.type == 'mmcoc.ClusterUniformSampler'
    sobel = type(model.data_preprocessor).__name__ == 'SobelDataPreprocessor'
    assert sobel == ('sobel' in path.stem)


@pytest.mark.parametrize('path', [p for p in PRETRAIN if p.stem.endswith('_in1k')],
                         ids=lambda p: p.stem)
def test_imagenet_pretraining_steps_on_the_papers_batch(path):
    # Caron et al.: 256 images per step at SGD lr 0.05; here 8 GPUs x 32
    cfg = load_config(str(path))
    assert cfg.train_dataloader.batch_size * 8 == cfg.auto_scale_lr.base_batch_size == 256
    optimizer = cfg.optim_wrapper.optimizer
    if optimizer.type == 'SGD':
        assert optimizer.lr == 0.05
    else:  # CoC: AdamW at its published 1e-3 per 1024 images
        assert optimizer.type == 'AdamW' and optimizer.lr == 1e-3 * 256 / 1024


@pytest.mark.parametrize('path', PROBES, ids=lambda p: p.stem)
def test_probes_train_only_the_head(path):
    model = build_model(load_config(str(path)))
    model.train()
    trained = {name.split('.')[0] for name, p in model.named_parameters() if p.requires_grad}
    assert trained == {'head'}
    # a probe sees the input its pretraining saw
    sobel = type(model.data_preprocessor).__name__ == 'SobelDataPreprocessor'
    assert sobel == ('sobel' in path.stem)
    if path.stem.endswith('_random_init'):
        # the baseline: the weights the pretraining starts from
        pretrain = load_config(str(CONFIGS / path.name.replace('linear_probe', 'deepcluster')
                                   .replace('_random_init', '')))
        assert model.backbone.init_cfg == pretrain.model.backbone.init_cfg
    else:
        assert model.backbone.init_cfg['prefix'] == 'backbone.'
