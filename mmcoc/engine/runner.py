"""``mmcoc.RecoverableRunner``: mmengine's ``Runner`` with the guarantees mmcoc adds to a run.

A config asks for it with ``runner_type='mmcoc.RecoverableRunner'`` (the project's configs do,
through ``configs/_base_/mmcoc_runtime.py``), so mmdet's, mmseg's and mmpretrain's own
``tools/train.py`` build it as ``tools/train.py`` here does. Against the plain ``Runner``:
- the config is adapted to the machine (``adapt_to_machine``: gloo, BN for SyncBN and CPU DDP
  without a GPU) and a CPU ``pytorch`` launch gets its gloo process group;
- training resumes exactly and checkpoints are written atomically and as plain data
  (``make_recoverable``: the loops and hooks of ``mmcoc.engine.recovery``);
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
from typing import Optional

import torch.distributed as dist
from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint_to_model

from mmcoc.registry import RUNNERS
from mmcoc.utils.checkpoint import load_checkpoint_file
from .hooks import WorkDirLockHook
from .recovery import make_recoverable
from .runtime import adapt_to_machine, destroy_process_group_at_exit, init_distributed


@RUNNERS.register_module()
class RecoverableRunner(Runner):
    trust_checkpoint = False

    @classmethod
    def from_cfg(cls, cfg: Config) -> 'RecoverableRunner':
        cfg = copy.deepcopy(cfg)
        launcher = cfg.get('launcher', 'none')
        trust = bool(cfg.pop('trust_checkpoint', False))
        adapt_to_machine(cfg, launcher)
        make_recoverable(cfg)
        init_distributed(launcher)
        runner = super().from_cfg(cfg)
        runner.trust_checkpoint = trust
        if dist.is_available() and dist.is_initialized():  # ours, or mmengine's (GPUs)
            destroy_process_group_at_exit()
        return runner

    def train(self):
        try:
            return super().train()
        finally:  # also when training fails
            for hook in self._hooks:
                if isinstance(hook, WorkDirLockHook):
                    hook.release()

    def load_or_resume(self):
        if self._resume and self._load_from is None and not self._has_loaded:
            found = find_resume_checkpoint(self.work_dir)
            if found is None:
                self.logger.info(f'auto resume: nothing to resume in {self.work_dir} (no '
                                 'checkpoint there): training from scratch')
                self._resume = False
            else:
                self.logger.info(f'auto resume from {found}')
                self._load_from = found
        super().load_or_resume()

    @staticmethod
    def build_dataloader(dataloader, seed=None, diff_rank_seed=False):
        if isinstance(dataloader, dict):
            check_dataset_files(dataloader.get('dataset'))
        loader = Runner.build_dataloader(dataloader, seed=seed, diff_rank_seed=diff_rank_seed)
        if getattr(loader, 'num_workers', 0) > 0 and sys.platform.startswith('linux'):
            loader.worker_init_fn = functools.partial(_die_with_parent, loader.worker_init_fn)
        return loader

    def load_checkpoint(self, filename: str, map_location='cpu', strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]):
        # mmengine's body, reading the file through mmcoc's weights-only reader
        checkpoint = load_checkpoint_file(filename, map_location=map_location,
                                          trust=self.trust_checkpoint)
        self._loading = filename  # named by CheckpointFitHook's messages
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        checkpoint = _load_checkpoint_to_model(model, checkpoint, strict,
                                               revise_keys=revise_keys)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint


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
