"""ClusterVisualizationHook in real runners: a classifier trained a few iterations, a detector
and a segmentor before training; the demo configs enable it."""
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from mmcoc.datasets import coco_files
from mmcoc.engine import build_runner
from mmcoc.utils.config import load_config

ROOT = Path(__file__).parents[3]
TINY = ROOT / 'tests' / 'tools'
HOOK = 'mmcoc.ClusterVisualizationHook'


def tiny_runner(config, data_root, work_dir, **hook):
    cfg = load_config(str(TINY / config), work_dir=str(work_dir))
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.data_root = str(data_root)
        if 'ann_file' in cfg.get(f'{split}_evaluator', {}):
            cfg[f'{split}_evaluator'].ann_file = str(Path(data_root) / coco_files('val')[1])
    cfg.custom_hooks = [dict(type=HOOK, **hook)]
    # one visualizer per runner: the hosts' configs name theirs 'visualizer', and a second
    # runner would get the first one's instance (and its save_dir) back
    cfg.experiment_name = cfg.visualizer.name = f'{Path(config).stem}_{work_dir.name}'
    return build_runner(cfg)


def drawn(work_dir):
    return {p.name: cv2.imread(str(p))[..., ::-1]
            for p in Path(work_dir).glob('*/vis_data/vis_image/clusters_*.png')}


def assert_cluster_grid(grid, rows, columns):
    # a row per stage, a column per head; white boundaries and coloured regions
    assert grid.shape[0] >= rows * 96 and columns * 96 <= grid.shape[1] < (columns + 1) * 200
    assert (grid == 255).all(-1).mean() > 0.01
    colourful = np.ptp(grid.astype(int), axis=-1) > 60
    assert colourful.mean() > 0.2


def test_classifier_training_draws_every_interval(tiny_imagenet, tmp_path):
    runner = tiny_runner('tiny_cls.py', tiny_imagenet, tmp_path, interval=1, num_images=2)
    runner.train()  # 8 images in batches of 4: 2 iterations
    images = drawn(tmp_path)
    # before training (iteration 0), then after iterations 1 and 2, for both images
    assert sorted(images) == [f'clusters_{i}_{step}.png' for i in (0, 1) for step in (0, 1, 2)]
    for grid in images.values():
        assert_cluster_grid(grid, rows=4, columns=1)  # block 0 head 0 of the four stages
    hook = [h for h in runner.hooks if type(h).__name__ == 'ClusterVisualizationHook'][0]
    sites = [m for m in runner.model.modules() if hasattr(m, 'keep_assignment')]
    assert not any(m.keep_assignment for m in sites)  # switched off again
    assert all(m.last_assignment is None for m in sites)  # nothing kept beyond drawing
    assert len(hook._items) == 2


@pytest.mark.parametrize('config,data', [('tiny_maskrcnn.py', 'tiny_coco'),
                                         ('tiny_fpn.py', 'tiny_ade')])
def test_detector_and_segmentor_get_cluster_maps(config, data, request, tmp_path):
    runner = tiny_runner(config, request.getfixturevalue(data), tmp_path, interval=5,
                         num_images=1, heads=(0, 1))
    runner.model.train()
    runner._val_loop = runner.build_val_loop(runner._val_loop)  # as Runner.train() does first
    hook = [h for h in runner.hooks if type(h).__name__ == 'ClusterVisualizationHook'][0]
    hook.before_train(runner)
    assert runner.model.training  # the hook's eval() is undone
    images = drawn(tmp_path)
    assert list(images) == ['clusters_0_0.png']
    assert_cluster_grid(images['clusters_0_0.png'], rows=4, columns=2)


def test_demo_configs_enable_the_hook():
    for config in ('coc_tiny_plain_cls_demo.py', 'coc_tiny_maskrcnn_demo.py',
                   'coc_tiny_fpn_demo.py'):
        cfg = Config.fromfile(str(ROOT / 'configs' / 'demo' / config))
        hooks = [h for h in cfg.custom_hooks if h['type'] == HOOK]
        assert len(hooks) == 1, config
        # cheap: a few drawings over the whole run
        assert hooks[0]['interval'] >= 50


def test_hook_refuses_bad_arguments():
    from mmcoc.engine.hooks import ClusterVisualizationHook
    with pytest.raises(ValueError, match='interval'):
        ClusterVisualizationHook(interval=0)
    with pytest.raises(ValueError, match='num_images'):
        ClusterVisualizationHook(num_images=0)
