"""``mmcoc.RecoverableRunner``: mmengine's ``Runner`` with the guarantees mmcoc adds to a run.

A config asks for it with ``runner_type='mmcoc.RecoverableRunner'`` (the project's configs do,
through ``configs/_base_/default_runtime.py``), so mmdet's, mmseg's and mmpretrain's own
``tools/train.py`` build it as ``tools/train.py`` here does. Against the plain ``Runner``:
- the config is adapted to the machine (``mmcoc.utils.config.adapt_to_machine``: gloo and CPU
  DDP without a GPU), a CPU ``pytorch`` launch gets its gloo process group, and SyncBN becomes
  BN after the model is built in one process or without a GPU (``revert_sync_batchnorm``);
- training resumes exactly and checkpoints are written atomically and as plain data
  (``make_recoverable``: the hooks and file backend of ``mmcoc.engine.recovery``, around
  mmengine's own loops and ``CheckpointHook``);
- checkpoints (``load_from``, ``resume``) are read weights-only
  (``mmcoc.utils.load_checkpoint_file``): pickled objects are unpickled only when the config
  says ``trust_checkpoint=True`` (the tools' ``--trust-checkpoint``) or
  ``MMCOC_TRUST_CHECKPOINTS=1`` is set;
- a data loader whose dataset files are missing stops before it is built, naming the missing
  path and the guide that says where the data goes;
- data-loader worker processes die with the process that started them (Linux), also when it is
  killed with SIGKILL and the workers are persistent;
- one training per work dir (``mmcoc.WorkDirLockHook``); an auto resume with nothing to resume
  says so and trains from scratch, and one whose ``last_checkpoint`` names a missing file
  resumes from the newest intact checkpoint there (``find_resume_checkpoint``);
- the process group is destroyed at exit, before the interpreter shuts down.
"""
import copy
import ctypes
import functools
import glob
import logging
import os
import os.path as osp
import re
import signal
import sys
import zipfile
from collections import OrderedDict
from typing import Optional

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import FlexibleRunner, Runner
from mmengine.runner.checkpoint import load_state_dict

from mmcoc.registry import RUNNERS
from mmcoc.utils.checkpoint import load_checkpoint_file
from mmcoc.utils.config import adapt_to_machine, batch_norm_for_machine, type_name
from mmcoc.utils.weights_fit import read_host_pretrained

from .hooks import WorkDirLockHook
from .recovery import make_recoverable
from .runtime import destroy_process_group_at_exit, init_distributed


class _Recoverable:
    """What mmcoc adds to mmengine's ``Runner`` and ``FlexibleRunner`` alike (module docstring)."""
    trust_checkpoint = False
    checkpoint_source = None  # the file being loaded, for CheckpointFitHook's messages

    @classmethod
    def from_cfg(cls, cfg: Config):
        cfg = copy.deepcopy(cfg)
        launcher = cfg.get('launcher', 'none')
        trust = bool(cfg.pop('trust_checkpoint', False))
        cls.prepare_config(cfg, launcher)
        adapt_to_machine(cfg, launcher)
        make_recoverable(cfg)
        _resolve_auto_resume(cfg)
        init_distributed(launcher)
        runner = super().from_cfg(cfg)
        runner.trust_checkpoint = trust
        if dist.is_available() and dist.is_initialized():  # ours, or mmengine's (GPUs)
            destroy_process_group_at_exit()
        return runner

    @classmethod
    def prepare_config(cls, cfg: Config, launcher: str) -> None:
        """What this runner needs in ``cfg`` (in place) before the common adaptation."""

    def train(self):
        try:
            if isinstance(self.model, torch.nn.Module):  # a FlexibleRunner's strategy builds it
                read_host_pretrained(self.model, self.trust_checkpoint)
            return super().train()
        finally:  # also when training fails (mmengine calls no hook then)
            for hook in self._hooks:
                if isinstance(hook, WorkDirLockHook):
                    hook.release()

    @classmethod
    def build_dataloader(cls, dataloader, seed=None, diff_rank_seed=False):
        if isinstance(dataloader, dict):
            check_dataset_files(dataloader.get('dataset'))
        loader = super().build_dataloader(dataloader, seed=seed, diff_rank_seed=diff_rank_seed)
        if getattr(loader, 'num_workers', 0) > 0 and sys.platform.startswith('linux'):
            loader.worker_init_fn = functools.partial(_die_with_parent, loader.worker_init_fn)
        return loader


@RUNNERS.register_module()
class RecoverableRunner(_Recoverable, Runner):

    def build_model(self, model):
        return batch_norm_for_machine(super().build_model(model), self.distributed)

    def load_checkpoint(self, filename: str, map_location='cpu', strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]):
        # mmengine's, with the file read by mmcoc's weights-only reader instead of
        # CheckpointLoader (whose http loader unpickles in full); pinned in test_upstream_pins
        checkpoint = load_checkpoint_file(filename, map_location=map_location,
                                          trust=self.trust_checkpoint)
        self.checkpoint_source = filename
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        state_dict = checkpoint.get('state_dict', checkpoint)
        metadata = getattr(state_dict, '_metadata', OrderedDict())
        for pattern, replacement in revise_keys:
            state_dict = OrderedDict((re.sub(pattern, replacement, key), value)
                                     for key, value in state_dict.items())
        state_dict._metadata = metadata
        load_state_dict(model, state_dict, strict=strict, logger=self.logger)
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint


# mmengine's strategies that mmcoc extends (mmcoc.engine.strategies); others run as they are
_STRATEGIES = ('SingleDeviceStrategy', 'DDPStrategy', 'FSDPStrategy')


@RUNNERS.register_module()
class RecoverableFlexibleRunner(_Recoverable, FlexibleRunner):
    """mmengine's ``FlexibleRunner`` (a ``strategy``: DDP, FSDP, DeepSpeed, ColossalAI) with
    what ``RecoverableRunner`` adds; ``build_runner`` builds it for
    ``runner_type='FlexibleRunner'``.

    mmengine's single-device, DDP and FSDP strategies become mmcoc's (weights-only reading, BN
    for SyncBN without a GPU); FSDP checkpoints are full state dicts unless the config says
    otherwise (``strategy.state_dict_cfg``), so that ``tools/test.py``, the apis and the
    converters read them like any other. Other strategies read checkpoints by their own means
    (a warning says so)."""

    @classmethod
    def prepare_config(cls, cfg: Config, launcher: str) -> None:
        strategy = cfg.get('strategy') or dict(
            type='SingleDeviceStrategy' if launcher == 'none' else 'DDPStrategy')
        name = type_name(strategy)
        if name in _STRATEGIES:
            strategy['type'] = f'mmcoc.{name}'
            if name == 'FSDPStrategy':
                strategy.setdefault('state_dict_cfg', 'full')
        else:
            print_log(f'strategy {name}: checkpoints are read by the strategy itself, not '
                      "by mmcoc's weights-only reader", logger='current', level=logging.WARNING)
        cfg.strategy = strategy

    @property
    def trust_checkpoint(self):
        return getattr(self.strategy, 'trust_checkpoint', False)

    @trust_checkpoint.setter
    def trust_checkpoint(self, value):
        self.strategy.trust_checkpoint = value

    def load_checkpoint(self, filename: str, **kwargs):
        self.checkpoint_source = filename
        return super().load_checkpoint(filename, **kwargs)

    def resume(self, filename: str, **kwargs):
        self.checkpoint_source = filename
        return super().resume(filename, **kwargs)


def _resolve_auto_resume(cfg: Config):
    """``resume=True`` without ``load_from``: the file ``find_resume_checkpoint`` names, or, with
    nothing to resume, a training from scratch that says so (mmengine's auto resume reads
    ``last_checkpoint`` alone and fails where it names a missing file)."""
    if not cfg.get('resume') or cfg.get('load_from') is not None:
        return
    found = find_resume_checkpoint(cfg.work_dir)
    if found is None:
        print_log(f'auto resume: nothing to resume in {cfg.work_dir} (no checkpoint there): '
                  'training from scratch', logger='current')
        cfg.resume = False
    else:
        print_log(f'auto resume from {found}', logger='current')
        cfg.load_from = found


_STEP_CHECKPOINT = re.compile(r'^(epoch|iter)_\d+\.pth$')


def _intact(path: str) -> bool:
    """A torch (zip) checkpoint whose every member reads back with its checksum."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except (OSError, EOFError, zipfile.BadZipFile):
        return False


def find_resume_checkpoint(work_dir: str) -> Optional[str]:
    """What an auto resume (``--resume`` without a file) continues from: the checkpoint
    ``last_checkpoint`` names; where that file is missing, or there is no ``last_checkpoint``
    beside step checkpoints (``epoch_N.pth``, ``iter_N.pth``), the newest intact one of those (a
    warning names it). None where there is neither: nothing to resume. Stops (``SystemExit``,
    naming the files there) where ``last_checkpoint`` names a missing file and no intact
    checkpoint is left."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    named = None
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
        if '://' in named or osp.isfile(named):
            return named
    folders = list(dict.fromkeys(d for d in (osp.dirname(named or ''), work_dir)
                                 if d and osp.isdir(d)))
    found = sorted((p for d in folders for p in glob.glob(osp.join(glob.escape(d), '*.pth'))
                    if _STEP_CHECKPOINT.match(osp.basename(p)) and osp.isfile(p)),
                   key=osp.getmtime, reverse=True)
    problem = (f'last_checkpoint names {named}, which does not exist' if named else
               f'{work_dir} has no last_checkpoint')
    broken = []
    for path in found:
        if _intact(path):
            skipped = f' ({len(broken)} newer ones are not intact: {", ".join(broken)})'
            print_log(f'{problem}: resuming from {path}, the newest intact checkpoint there'
                      f'{skipped if broken else ""}', logger='current', level=logging.WARNING)
            return path
        broken.append(osp.basename(path))
    if named is None and not broken:
        return None
    there = sorted(f for d in folders for f in os.listdir(d))
    listing = ', '.join(there[:20]) + (f' and {len(there) - 20} more' if len(there) > 20 else '')
    message = (f'nothing to resume: {problem}, and no checkpoint in {" or ".join(folders)} is '
               f'intact (there: {listing or "nothing"}). Resume from a file with --resume FILE, '
               'or train from scratch without --resume')
    raise SystemExit(message if is_main_process() else 1)


# Where each kind of dataset goes (the guide's section on data), for the missing-data message.
_DATA_GUIDES = {'Coco': 'docs/detection.md', 'ADE20K': 'docs/segmentation.md',
                'ImageNet': 'docs/classification.md', 'CustomDataset': 'docs/classification.md'}


def _dataset_paths(dataset: dict):
    root = dataset.get('data_root') or ''
    if root:
        yield 'data_root', root
    ann_file = dataset.get('ann_file')
    if ann_file:
        yield 'ann_file', osp.join(root, ann_file)
    prefix = dataset.get('data_prefix') or {}
    for key, value in (prefix.items() if isinstance(prefix, dict) else [('data_prefix', prefix)]):
        if isinstance(value, str) and value:
            yield f'data_prefix.{key}', osp.join(root, value)


def check_dataset_files(dataset) -> None:
    """Stop, naming the path and the guide, when a dataset's local files are not there (a
    published config run before its dataset was downloaded); wrappers are looked into."""
    if not isinstance(dataset, dict):
        return
    for inner in [dataset.get('dataset')] + list(dataset.get('datasets') or []):
        check_dataset_files(inner)
    kind = str(dataset.get('type', '')).split('.')[-1]
    for key, path in _dataset_paths(dataset):
        if '://' in path or osp.exists(path):
            continue
        guide = next((doc for name, doc in _DATA_GUIDES.items() if name in kind),
                     'docs/get_started.md')
        raise FileNotFoundError(
            f'the {kind or "dataset"} of this config is not on this machine: {key} {path!r} '
            f'does not exist. Put the data there as {guide} describes, or point the config at '
            f'it, e.g. --cfg-options train_dataloader.dataset.data_root=/path/to/data/ (and the '
            f'val/test loaders likewise).')


def _die_with_parent(worker_init_fn, worker_id: int):
    # PR_SET_PDEATHSIG: the kernel kills this worker when its parent dies, however it died;
    # torch's own watchdog notices only between batches, and not while blocked in a transform.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if worker_init_fn is not None:
        worker_init_fn(worker_id)
