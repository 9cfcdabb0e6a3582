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
  ``max_keep_ckpts=1`` a kill in between leaves none) and writes each file in place.

All of it reaches a run through mmengine's extension points; its loops, ``CheckpointHook`` and
``Runner.load_checkpoint`` run unmodified. ``ExactResumeHook`` (lowest priority, so after every
other hook's ``before_train``) hands the train loop a ``ReseedingLoader`` around its data
loader: every random generator is reseeded from ``(seed, epoch, batch)`` (``(seed, iteration)``
for iteration-based loops) right before each batch is fetched, so every step's randomness
depends only on where it is in training, and a resumed epoch fetches (and drops) the batches
already trained, so the data order and the data workers' state are those of an uninterrupted
run; where validation was due at the resumed point it validates first. ``CheckpointHook``
writes through ``mmcoc.utils.fileio``'s atomic backend, which also keeps a dropped checkpoint
until its successor is complete; ``PlainCheckpointHook`` keeps checkpoints readable
weights-only. ``make_recoverable`` adds these to a config (``mmcoc.RecoverableRunner`` calls it);
``tests/engine/test_upstream_pins.py`` pins the mmengine code this relies on.

Exact (bitwise) on CPU with the same number of threads; on GPUs as exact as the kernels are
deterministic (``randomness=dict(seed=..., deterministic=True)``). Data workers must not be
persistent for augmentations in them to resume exactly (a warning says so).
"""
import bisect
import json
import logging
import os.path as osp
import random

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.registry import MODELS
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop
from torch.distributed.fsdp import StateDictType

from mmcoc.registry import HOOKS
from mmcoc.utils.checkpoint import from_plain, to_plain
from mmcoc.utils.config import type_name
from mmcoc.utils.fileio import ATOMIC_BACKEND, atomic_write
from mmcoc.utils.weights_fit import check_fit

from .strategies import is_sharded

VALIDATED = 'last_validation.json'  # [unit, step] of the last finished validation


def reseed_all(seed: int, *position: int):
    """Seed Python's, numpy's and torch's global generators from ``seed`` and a position."""
    state = np.random.SeedSequence([abs(int(seed))] + [p + 1 for p in position])
    value = int(state.generate_state(1)[0])
    random.seed(value)
    np.random.seed(value)
    torch.manual_seed(value)  # every device's generator


_END = object()  # what ReseedingLoader._next_reseeded returns after the last batch


class ReseedingLoader:
    """A train data loader whose batches are fetched at a known random state.

    ``by_epoch``: each pass (one epoch, ``runner.epoch``) reseeds from ``(seed, epoch)`` before
    it creates the loader's iterator (which draws the workers' base seed) and from
    ``(seed, epoch, batch)`` before each batch; the first ``skip`` batches of the next pass are
    fetched and dropped. Otherwise (iteration-based) ``infinite()`` passes over the loader
    again and again (``sampler.set_epoch`` between passes, as mmengine's loop does), reseeding
    from ``(seed, batches fetched so far)``. Everything else is the wrapped loader's.
    """

    def __init__(self, loader, runner, by_epoch: bool, skip: int = 0):
        self.loader, self.runner, self.by_epoch, self.skip = loader, runner, by_epoch, skip
        self.fetched = 0

    def __getattr__(self, name):
        if name == 'loader':  # not set yet (copy, pickle)
            raise AttributeError(name)
        return getattr(self.loader, name)

    def __len__(self):
        return len(self.loader)

    def _next_reseeded(self, batches, *position):
        """The next batch of ``batches``, fetched right after reseeding from ``position``;
        ``_END`` when there is none."""
        reseed_all(self.runner.seed, *position)
        return next(batches, _END)

    def __iter__(self):
        epoch = self.runner.epoch
        skip, self.skip = self.skip, 0
        reseed_all(self.runner.seed, epoch)
        batches = iter(self.loader)
        index = 0
        while (batch := self._next_reseeded(batches, epoch, index)) is not _END:
            if index >= skip:
                yield batch
            index += 1

    def infinite(self):
        passes = 0
        while True:
            batches = iter(self.loader)
            while (batch := self._next_reseeded(batches, self.fetched)) is not _END:
                self.fetched += 1
                yield batch
            passes += 1
            # where mmengine's _InfiniteDataloaderIterator looks for set_epoch (pinned)
            sampler = getattr(self.loader, 'sampler', None)
            if not hasattr(sampler, 'set_epoch'):
                sampler = getattr(getattr(self.loader, 'batch_sampler', None), 'sampler', None)
            if hasattr(sampler, 'set_epoch'):
                sampler.set_epoch(passes)


@HOOKS.register_module()
class ExactResumeHook(Hook):
    """Makes mmengine's ``EpochBasedTrainLoop`` / ``IterBasedTrainLoop`` resume exactly (see
    the module's docstring); other loops are left alone, with a warning. After each validation
    of a training the main process records its step in ``WORK_DIR/last_validation.json``."""
    priority = 'LOWEST'
    _unit = None  # 'epoch' or 'iteration' while training

    def after_train(self, runner) -> None:
        self._unit = None

    def before_train(self, runner) -> None:
        loop = runner.train_loop
        by_epoch = isinstance(loop, EpochBasedTrainLoop)
        if not by_epoch and not isinstance(loop, IterBasedTrainLoop):
            print_log(f'{type(loop).__name__} is neither of mmengine\'s train loops: a resume '
                      'is as exact as that loop makes it', logger='current',
                      level=logging.WARNING)
            return
        loader = loop.dataloader
        if runner.iter > 0 and loader.num_workers > 0 and loader.persistent_workers:
            print_log('resuming with persistent data workers: they restart with their initial '
                      'random state, so random augmentations from here on differ from an '
                      'uninterrupted run (train_dataloader.persistent_workers=False makes the '
                      'resume exact)', logger='current', level=logging.WARNING)
        if by_epoch:
            done = runner.iter - runner.epoch * len(loader)
            if not 0 <= done <= len(loader):
                raise RuntimeError(
                    f'the checkpoint says {runner.iter} iterations and {runner.epoch} epochs of '
                    f'{len(loader)} batches were trained, which cannot be: the dataset or '
                    'batch size changed since it was written. Resume with the same data '
                    'settings, or start a new run with load_from=CHECKPOINT.')
            if done:
                print_log(f'resuming inside epoch {runner.epoch + 1}: fetching and skipping the '
                          f'{done} batches trained before the interruption', logger='current')
            loop.dataloader = ReseedingLoader(loader, runner, by_epoch=True, skip=done)
            at_boundary, step = done == 0, runner.epoch
        else:
            loop.dataloader = ReseedingLoader(loader, runner, by_epoch=False)
            loop.dataloader_iterator = loop.dataloader.infinite()
            at_boundary, step = True, runner.iter
        # The checkpoint of `step` is written before its validation; resuming from it skips
        # that validation unless it is run here, where the work dir does not record it as done
        # (a run that finished cleanly, resumed again, does not validate again).
        unit = self._unit = 'epoch' if by_epoch else 'iteration'
        if step > 0 and at_boundary and self._validation_due(loop, step):
            if self._validated(runner) == [unit, step]:
                print_log(f'resumed at {unit} {step}, whose validation the work dir records as '
                          'done: not validating again', logger='current')
            else:
                print_log(f'resumed where validation was due ({unit} {step}): validating '
                          'first, since the interrupted run may not have finished it',
                          logger='current')
                runner.val_loop.run()

    def after_val_epoch(self, runner, metrics=None) -> None:
        if self._unit is None or not is_main_process():  # not in a training (runner.val())
            return
        record = [self._unit, runner.epoch if self._unit == 'epoch' else runner.iter]
        atomic_write(osp.join(runner.work_dir, VALIDATED), json.dumps(record).encode())

    @staticmethod
    def _validated(runner):
        try:
            with open(osp.join(runner.work_dir, VALIDATED)) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    @staticmethod
    def _validation_due(loop, step: int) -> bool:
        # the loops' own rule (their pinned `run`), with the interval their dynamic schedule
        # gives at `step` (their pinned `_decide_current_val_interval`)
        interval = loop.dynamic_intervals[bisect.bisect(loop.dynamic_milestones, step + 1) - 1]
        last = loop.max_epochs if isinstance(loop, EpochBasedTrainLoop) else loop.max_iters
        return (loop.runner.val_loop is not None and step >= loop.val_begin
                and (step % interval == 0 or step == last))


@HOOKS.register_module()
class CheckpointFitHook(Hook):
    """Stops ``load_from`` / ``--resume`` with a checkpoint that does not fit the model (mmengine
    warns and runs on with random weights where they differ), under the one fit policy of
    ``mmcoc.utils.weights_fit``: per part of the model (backbone, neck, heads), counted in
    parameters; a backbone's bare state dict, tensors of another shape or of an integer dtype,
    and the architecture the checkpoint's recorded config names where it differs."""
    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        config = runner.cfg.get('model')
        if is_sharded(runner.model):
            if runner.strategy.state_dict_type != StateDictType.FULL_STATE_DICT:
                print_log('a sharded FSDP checkpoint: its fit is checked by FSDP itself',
                          logger='current')
                return
            # FSDP's modules hold flat shards: measure the fit on the model the config builds,
            # with its tensors on the meta device (shapes and dtypes, no memory)
            with torch.device('meta'):
                model = MODELS.build(config)
        else:
            model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if isinstance(model, BaseTTAModel):  # --tta: the checkpoint is the wrapped model's
            model, config = model.module, (config or {}).get('module')
        source = getattr(runner, 'checkpoint_source', None) or 'being loaded'
        check_fit(source, checkpoint, model, config=config)


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


def make_recoverable(cfg):
    """Make a config's run recoverable (in place): mmengine's ``CheckpointHook`` writes through
    the atomic backend (unless it names a backend), test metrics are written by the main process
    only (``mmcoc.RankZeroLoggerHook``), and ``PlainCheckpointHook``, ``CheckpointFitHook``,
    ``FiniteInputsHook``, ``FiniteLossHook``, ``WorkDirLockHook`` and ``ExactResumeHook`` are
    added to the custom hooks. Hooks of other types are left alone."""
    default_hooks = cfg.get('default_hooks') or {}
    checkpoint = default_hooks.get('checkpoint')
    if checkpoint and type_name(checkpoint) == 'CheckpointHook':
        if checkpoint.get('backend_args') is None and checkpoint.get('file_client_args') is None:
            checkpoint['backend_args'] = dict(backend=ATOMIC_BACKEND)
    logger = default_hooks.get('logger')
    if logger and type_name(logger) == 'LoggerHook':
        logger['type'] = 'mmcoc.RankZeroLoggerHook'
        logger.pop('_scope_', None)
    hooks = list(cfg.get('custom_hooks') or [])
    for name in ('PlainCheckpointHook', 'CheckpointFitHook', 'FiniteInputsHook', 'FiniteLossHook',
                 'WorkDirLockHook', 'ExactResumeHook'):
        if not any(type_name(hook) == name for hook in hooks):
            hooks.append(dict(type=f'mmcoc.{name}'))
    cfg.custom_hooks = hooks
    return cfg
