"""Training that survives being killed: exact resume and checkpoints that are never lost.

mmengine 0.10.7 resumes the weights, optimizer, schedulers and counters, but not the rest of
what decides the next steps:
- random state: it reseeds from the config seed, so the data augmentation and the detector's
  sampling after a resume differ from an uninterrupted run;
- position in an epoch: ``EpochBasedTrainLoop`` restarts an epoch from its first batch when
  resumed from an iteration checkpoint, training those batches twice;
- validation: a run killed during the evaluation that follows a checkpoint resumes after it and
  never evaluates that point;
- ``CheckpointHook`` deletes the oldest checkpoint before writing the new one (with
  ``max_keep_ckpts=1`` a kill in between leaves none) and rewrites ``last_checkpoint`` in place.

The loops here reseed every random generator from ``(seed, epoch, batch)`` right before each
batch is fetched, so every step's randomness depends only on where it is in training; a resumed
epoch fetches (and drops) the batches already trained, so the data order and the data workers'
state are those of an uninterrupted run; a resume at a point where validation was due validates
first. ``AtomicCheckpointHook`` writes first and deletes after, each file atomically
(``mmcoc.utils.fileio``); ``PlainCheckpointHook`` keeps checkpoints readable weights-only.
``make_recoverable`` switches a config to these (``mmcoc.RecoverableRunner`` calls it).

Exact (bitwise) on CPU with the same number of threads; on GPUs as exact as the kernels are
deterministic (``randomness=dict(seed=..., deterministic=True)``). Data workers must not be
persistent for augmentations in them to resume exactly (a warning says so).
"""
import logging
import os.path as osp
import random

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from mmcoc.registry import HOOKS, LOOPS
from mmcoc.utils.checkpoint import from_plain, to_plain
from mmcoc.utils.weights_fit import check_fit
from mmcoc.utils.fileio import ATOMIC_BACKEND

_LOOP_TYPES = {'EpochBasedTrainLoop': 'mmcoc.ResumableEpochBasedTrainLoop',
               'IterBasedTrainLoop': 'mmcoc.ResumableIterBasedTrainLoop'}


def reseed_all(seed: int, *position: int):
    """Seed Python's, numpy's and torch's global generators from ``seed`` and a position."""
    state = np.random.SeedSequence([abs(int(seed))] + [p + 1 for p in position])
    value = int(state.generate_state(1)[0])
    random.seed(value)
    np.random.seed(value)
    torch.manual_seed(value)  # every device's generator


class _ResumableLoop:
    """What both resumable loops share (mixed into mmengine's loops)."""

    def _reseed(self, *position):
        reseed_all(self.runner.seed, *position)

    def _warn_persistent_workers(self):
        loader = self.dataloader
        if self._iter > 0 and loader.num_workers > 0 and loader.persistent_workers:
            print_log('resuming with persistent data workers: they restart with their initial '
                      'random state, so random augmentations from here on differ from an '
                      'uninterrupted run (train_dataloader.persistent_workers=False makes the '
                      'resume exact)', logger='current', level=logging.WARNING)

    def _validation_due(self, step: int) -> bool:
        return (self.runner.val_loop is not None and step >= self.val_begin
                and (step % self.val_interval == 0 or step == self.max_step))

    def _validate_if_missed(self, step: int):
        # The checkpoint of `step` is written before its validation; resuming from it skips that
        # validation unless it is run here (it is repeated if it had finished: harmless).
        if step > 0 and self._validation_due(step):
            print_log(f'resumed where validation was due ({self.unit} {step}): validating '
                      'first, since the interrupted run may not have finished it',
                      logger='current')
            self.runner.val_loop.run()


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(_ResumableLoop, EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` that resumes exactly, also in the middle of an epoch."""
    unit = 'epoch'

    @property
    def max_step(self):
        return self._max_epochs

    def run(self) -> torch.nn.Module:
        self.runner.call_hook('before_train')
        self._warn_persistent_workers()
        if self._iter == self._epoch * len(self.dataloader):  # at an epoch boundary
            self._decide_current_val_interval()
            self._validate_if_missed(self._epoch)
        while self._epoch < self._max_epochs and not self.stop_training:
            self.run_epoch()
            self._decide_current_val_interval()
            if self._validation_due(self._epoch):
                self.runner.val_loop.run()
        self.runner.call_hook('after_train')
        return self.runner.model

    def run_epoch(self) -> None:
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        done = self._iter - self._epoch * len(self.dataloader)
        if not 0 <= done <= len(self.dataloader):
            raise RuntimeError(
                f'the checkpoint says {self._iter} iterations and {self._epoch} epochs of '
                f'{len(self.dataloader)} batches were trained, which cannot be: the dataset or '
                'batch size changed since it was written. Resume with the same data settings, '
                'or start a new run with load_from=CHECKPOINT.')
        if done:
            print_log(f'resuming inside epoch {self._epoch + 1}: fetching and skipping the '
                      f'{done} batches trained before the interruption', logger='current')
        self._reseed(self._epoch)  # creating the batch iterator draws from torch's generator
        batches = iter(self.dataloader)
        index = 0
        while True:
            self._reseed(self._epoch, index)
            try:
                data_batch = next(batches)
            except StopIteration:
                break
            if index >= done:
                self.run_iter(index, data_batch)
            index += 1
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1


@LOOPS.register_module()
class ResumableIterBasedTrainLoop(_ResumableLoop, IterBasedTrainLoop):
    """``IterBasedTrainLoop`` whose randomness after a resume is that of an uninterrupted run."""
    unit = 'iteration'

    @property
    def max_step(self):
        return self._max_iters

    def run(self) -> None:
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        self._warn_persistent_workers()
        if self._iter > 0:
            print_log(f'resuming at iteration {self._iter}: fetching and skipping the batches '
                      'trained before the interruption', logger='current')
        for step in range(self._iter):
            self._reseed(step)
            next(self.dataloader_iterator)
        self._decide_current_val_interval()
        self._validate_if_missed(self._iter)
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            self._reseed(self._iter)
            self.run_iter(next(self.dataloader_iterator))
            self._decide_current_val_interval()
            if self._validation_due(self._iter):
                self.runner.val_loop.run()
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` that never leaves a run without a complete checkpoint.

    mmengine's deletes the checkpoint that ``max_keep_ckpts`` drops *before* writing the new
    one and rewrites ``last_checkpoint`` in place; here the new checkpoint is written first
    (atomically, see ``mmcoc.utils.fileio``), then ``last_checkpoint`` is replaced atomically,
    and only then is the dropped one deleted. Local files go through ``ATOMIC_BACKEND`` unless
    ``backend_args`` names another backend.
    """

    def __init__(self, *args, backend_args=None, file_client_args=None, **kwargs):
        if backend_args is None and file_client_args is None:
            backend_args = dict(backend=ATOMIC_BACKEND)
        super().__init__(*args, backend_args=backend_args, file_client_args=file_client_args,
                         **kwargs)

    def _save_checkpoint_with_step(self, runner, step, meta):
        dropped = None
        keep = self.max_keep_ckpts > 0
        if keep and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                dropped = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(self.out_dir, filename, self.file_client_args,
                               save_optimizer=self.save_optimizer,
                               save_param_scheduler=self.save_param_scheduler, meta=meta,
                               by_epoch=self.by_epoch, backend_args=self.backend_args,
                               **self.args)
        if not is_main_process():
            return
        pointer = osp.join(runner.work_dir, 'last_checkpoint')
        self.file_backend.put_text(self.last_ckpt, pointer)
        if dropped is not None:
            old = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(dropped))
            if self.file_backend.isfile(old):
                self.file_backend.remove(old)
            elif self.file_backend.isdir(old):  # deepspeed writes folders
                self.file_backend.rmtree(old)


@HOOKS.register_module()
class CheckpointFitHook(Hook):
    """Stops ``load_from`` / ``--resume`` with a checkpoint that does not fit the model (mmengine
    warns and runs on with random weights where they differ), under the one fit policy of
    ``mmcoc.utils.weights_fit``: per part of the model (backbone, neck, heads), counted in
    parameters; a backbone's bare state dict, tensors of another shape or of an integer dtype,
    and the architecture the checkpoint's recorded config names where it differs."""
    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        source = getattr(runner, '_loading', None) or 'being loaded'
        check_fit(source, checkpoint, model, config=runner.cfg.get('model'))


@HOOKS.register_module()
class PlainCheckpointHook(Hook):
    """Checkpoints of plain data, so that any torch >= 2.6 reads them weights-only.

    mmengine stores its message hub's ``HistoryBuffer`` objects (and numpy values) in every
    training checkpoint; unpickling those needs the full pickle machinery, which can run code.
    Before a save they are turned into plain lists and numbers, and after a load turned back.
    """
    priority = 'VERY_HIGH'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        for key in ('message_hub', 'meta'):
            if key in checkpoint:
                checkpoint[key] = to_plain(checkpoint[key])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        for key in ('message_hub', 'meta'):
            if key in checkpoint:
                checkpoint[key] = from_plain(checkpoint[key])


def _bare_type(cfg) -> str:
    return str(cfg.get('type', '')).split('.')[-1]


def make_recoverable(cfg):
    """Switch a config's train loop and checkpoint hook to the resumable ones and add
    ``PlainCheckpointHook``, ``CheckpointFitHook``, ``FiniteInputsHook``, ``FiniteLossHook``
    and ``WorkDirLockHook`` (in place). Loops and hooks of other types (a custom loop, a custom checkpoint hook) are
    left alone.
    """
    train_cfg = cfg.get('train_cfg')
    if train_cfg:
        if 'type' not in train_cfg and 'by_epoch' in train_cfg:
            by_epoch = train_cfg.pop('by_epoch')
            train_cfg['type'] = 'EpochBasedTrainLoop' if by_epoch else 'IterBasedTrainLoop'
        if _bare_type(train_cfg) in _LOOP_TYPES:
            train_cfg['type'] = _LOOP_TYPES[_bare_type(train_cfg)]
            train_cfg.pop('_scope_', None)
    checkpoint = cfg.get('default_hooks', {}).get('checkpoint')
    if checkpoint and _bare_type(checkpoint) == 'CheckpointHook':
        checkpoint['type'] = 'mmcoc.AtomicCheckpointHook'
        checkpoint.pop('_scope_', None)
    hooks = list(cfg.get('custom_hooks') or [])
    for name in ('PlainCheckpointHook', 'CheckpointFitHook', 'FiniteInputsHook', 'FiniteLossHook',
                 'WorkDirLockHook'):
        if not any(_bare_type(hook) == name for hook in hooks):
            hooks.append(dict(type=f'mmcoc.{name}'))
    cfg.custom_hooks = hooks
    return cfg
