"""mmengine's FlexibleRunner with the DDP and FSDP strategies on 2 CPU processes (gloo): the run
keeps what mmcoc's runners add (hooks, weights-only reading, plain checkpoints in the model's
own names) and FSDP trains the same weights as DDP, also across a resume."""
import json
import sys
from pathlib import Path

import pytest
import torch

from tests.tools.tool_runner import ROOT, data_root_options, run

pytestmark = pytest.mark.slow  # subprocesses, exports, compiles or docs: make test-fast skips

DDP_CONFIG = str(Path(__file__).parent / 'tiny_cls_ddp.py')
FSDP_CONFIG = str(Path(__file__).parent / 'tiny_cls_fsdp.py')
HOOKS = ('CheckpointFitHook', 'ExactResumeHook', 'PlainCheckpointHook', 'WorkDirLockHook',
         'FiniteLossHook', 'ClusterVisualizationHook')


def dist_train(config, data, work_dir, *args, check=True):
    return run(['bash', 'tools/dist_train.sh', config, '2', '--work-dir', str(work_dir), *args,
                *data_root_options(data)], timeout=600, check=check)


def weights(path):
    return torch.load(path, weights_only=True)['state_dict']  # plain data, the model's names


@pytest.fixture(scope='module')
def ddp_run(tiny_imagenet, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('ddp')
    result = dist_train(DDP_CONFIG, tiny_imagenet, work_dir)
    return work_dir, result.stdout + result.stderr


def test_flexible_runner_keeps_the_project_hooks_and_checkpoint_layout(ddp_run):
    work_dir, log = ddp_run
    assert "type='mmcoc.DDPStrategy'" in (work_dir / 'tiny_cls_ddp.py').read_text()
    for hook in HOOKS:
        assert hook in log, hook
    assert json.loads((work_dir / 'last_validation.json').read_text()) == ['epoch', 2]
    assert list(work_dir.glob('*/vis_data/vis_image/clusters_0_*.png'))  # drawn on rank 0
    state = weights(work_dir / 'epoch_2.pth')
    assert 'backbone.patch_embed.proj.weight' in state and not any(
        k.startswith('module.') for k in state)


def test_fsdp_trains_the_weights_ddp_trains_across_a_resume(ddp_run, tiny_imagenet, tmp_path):
    # one epoch, then a resume for the second: FSDP's sharded optimizer state reloaded, the
    # clipped gradient's norm taken over every rank's shards
    work_dir = tmp_path / 'fsdp'
    dist_train(FSDP_CONFIG, tiny_imagenet, work_dir, '--cfg-options', 'train_cfg.max_epochs=1')
    result = dist_train(FSDP_CONFIG, tiny_imagenet, work_dir, '--resume')
    assert 'resumed epoch: 1' in result.stdout + result.stderr
    dumped = (work_dir / 'tiny_cls_fsdp.py').read_text()
    assert "type='mmcoc.FSDPStrategy'" in dumped and "state_dict_cfg='full'" in dumped
    fsdp, ddp = weights(work_dir / 'epoch_2.pth'), weights(ddp_run[0] / 'epoch_2.pth')
    assert set(fsdp) == set(ddp)
    for key in ddp:
        torch.testing.assert_close(fsdp[key], ddp[key], rtol=1e-4, atol=1e-5, msg=key)

    # the checkpoint is a whole model's: the plain runner's tools/test.py evaluates it
    test = run([sys.executable, 'tools/test.py', str(ROOT / 'tests/tools/tiny_cls.py'),
                str(work_dir / 'epoch_2.pth'), '--work-dir', str(tmp_path / 'test'),
                *data_root_options(tiny_imagenet)])
    assert 'accuracy/top1' in test.stdout + test.stderr


def test_block_wrap_policy_wraps_the_blocks_the_backbones_call():
    from mmcoc.engine.strategies import wrap_clustering_blocks
    from mmcoc.models.backbones import ContextCluster, SecViT
    for backbone in (ContextCluster(arch='tiny_plain'), SecViT(arch='t')):
        wrapped = [name for name, module in backbone.named_modules()
                   if wrap_clustering_blocks(module, False, 1)]
        blocks = [block for stage in range(4) for block in backbone.stage_blocks(stage)]
        assert wrapped and len(wrapped) == len(blocks)
        assert all(wrap_clustering_blocks(module, True, 0) for module in backbone.modules())


def test_fsdp_refuses_a_checkpoint_that_does_not_fit(ddp_run, tiny_imagenet, tmp_path):
    state = {k: v for k, v in weights(ddp_run[0] / 'epoch_2.pth').items()
             if not k.startswith('head.')}
    headless = tmp_path / 'headless.pth'
    torch.save({'state_dict': state, 'meta': {}}, headless)
    result = dist_train(FSDP_CONFIG, tiny_imagenet, tmp_path / 'w', '--cfg-options',
                        f'load_from={headless}', check=False)
    assert result.returncode != 0
    assert 'does not fit' in result.stdout + result.stderr and 'head' in result.stderr
