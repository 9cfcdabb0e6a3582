"""A NaN or Inf loss stops training at its iteration, before any checkpoint holds it; a NaN in a
resumed optimizer state is refused like one in the weights."""
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from mmcoc.engine import build_runner
from mmcoc.engine.hooks import FiniteLossHook
from mmcoc.utils import load_checkpoint_file
from mmcoc.utils.config import load_config

ROOT = Path(__file__).parents[3]
CONFIG = str(ROOT / 'tests/tools/tiny_cls.py')  # 8 training images, batches of 4


@HOOKS.register_module(force=True)
class NaNWeightsAtIterHook(Hook):
    """Test helper: before iteration ``at`` (0-based) the head's weights become NaN, so that
    iteration's loss is NaN (and, once stepped, every weight it reaches)."""
    priority = 'LOWEST'

    def __init__(self, at: int):
        self.at = at

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == self.at:
            with torch.no_grad():
                runner.model.head.fc.weight.fill_(float('nan'))


def train(data_root, work_dir, max_epochs=2, checkpoint=None, hooks=(), **extra):
    options = {'train_dataloader.dataset.data_root': str(data_root),
               'val_dataloader.dataset.data_root': str(data_root),
               'test_dataloader.dataset.data_root': str(data_root),
               'train_cfg.max_epochs': max_epochs, 'train_cfg.val_interval': 100,
               'default_hooks.checkpoint': checkpoint or dict(interval=1), **extra}
    cfg = load_config(CONFIG, cfg_options=options, work_dir=str(work_dir))
    cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + list(hooks)
    runner = build_runner(cfg)
    runner.train()
    return runner


@pytest.mark.usefixtures('one_thread')
def test_nan_loss_on_the_last_iteration_of_an_epoch_writes_no_checkpoint(tiny_imagenet,
                                                                          tmp_path):
    # epoch 1 (iterations 1-2) is sound and saved; the last iteration of epoch 2 is NaN:
    # mmengine would write epoch_2.pth of NaN weights and point last_checkpoint at it
    with pytest.raises(FloatingPointError) as error:
        train(tiny_imagenet, tmp_path, hooks=[dict(type='NaNWeightsAtIterHook', at=3)])
    message = str(error.value)
    assert '\n' not in message
    assert message.startswith('training stopped at iteration 4 (epoch 2, batch 2): the loss is '
                              'not finite (loss=nan')
    assert 'Lower the learning rate' in message and 'clip_grad' in message
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['epoch_1.pth']
    assert (tmp_path / 'last_checkpoint').read_text().endswith('epoch_1.pth')
    weights = load_checkpoint_file(str(tmp_path / 'epoch_1.pth'))['state_dict']
    assert all(torch.isfinite(w).all() for w in weights.values() if w.is_floating_point())


@pytest.mark.usefixtures('one_thread')
def test_nan_loss_stops_before_its_iteration_checkpoint(tiny_imagenet, tmp_path):
    with pytest.raises(FloatingPointError, match=r'^training stopped at iteration 2 \(epoch 1, '
                                                 r'batch 2\): the loss is not finite'):
        train(tiny_imagenet, tmp_path, max_epochs=1,
              hooks=[dict(type='NaNWeightsAtIterHook', at=1)],
              checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=1))
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['iter_1.pth']
    assert (tmp_path / 'last_checkpoint').read_text().endswith('iter_1.pth')


def test_the_hook_names_the_bad_terms_and_ignores_the_rest():
    hook = FiniteLossHook()
    runner = SimpleNamespace(iter=6, epoch=0, train_loop=None)  # an iteration-based loop
    finite = dict(loss=torch.tensor(1.5), loss_cls=torch.tensor(1.0), acc=torch.tensor(math.nan))
    hook.after_train_iter(runner, 6, None, finite)  # accuracy is no loss term
    hook.after_train_iter(runner, 6, None, None)
    bad = dict(loss=torch.tensor(math.inf), loss_cls=torch.tensor(1.0),
               loss_bbox=torch.tensor(math.inf, dtype=torch.bfloat16), acc=torch.tensor(50.))
    with pytest.raises(FloatingPointError, match=r'^training stopped at iteration 7: the loss '
                                                 r'is not finite \(loss=inf, loss_bbox=inf\)'):
        hook.after_train_iter(runner, 6, None, bad)


@pytest.mark.usefixtures('one_thread')
def test_resume_from_nan_optimizer_state_is_refused(tiny_imagenet, tmp_path):
    # a run of one epoch, its checkpoint's AdamW moments then corrupted (as a bad disk or a
    # diverged run would leave them); the weights themselves are finite
    train(tiny_imagenet, tmp_path, max_epochs=1)
    path = tmp_path / 'epoch_1.pth'
    checkpoint = torch.load(path, weights_only=True)
    state = checkpoint['optimizer']['state']
    first = next(iter(state.values()))
    first['exp_avg'].view(-1)[0] = float('nan')
    torch.save(checkpoint, path)
    with pytest.raises(ValueError, match=r'epoch_1\.pth.* holds NaN or Inf values in its '
                                         r'optimizer state'):
        train(tiny_imagenet, tmp_path, max_epochs=2, resume=True)
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['epoch_1.pth']
    assert (tmp_path / 'last_checkpoint').read_text().endswith('epoch_1.pth')
