"""What a config needs to run on the machine at hand, applied by ``mmcoc.RecoverableRunner``
(and by ``build_model`` for a model alone).

Experiment configs are written for the published setting (8 GPUs, nccl, SyncBN where the
OpenMMLab bases use it). On a machine without CUDA, or in one process, three mmengine defaults
do not work; they are changed here so that users never edit a config for it:
- the process group: nccl needs CUDA, and mmengine's ``init_dist`` calls
  ``torch.cuda.set_device`` unconditionally, so the group is created here with gloo first
  (mmengine then skips its own);
- DDP: mmengine passes ``device_ids=[local_rank]``, which CPU modules refuse;
- SyncBN: needs a process group on CUDA; plain BN is the same computation in one process.
"""
import atexit
import os
import os.path as osp
from typing import Optional

import torch
import torch.distributed as dist
import torch.nn as nn
from mmengine.config import Config, ConfigDict
from mmengine.registry import MODELS, RUNNERS, init_default_scope
from mmengine.runner import Runner


def _replace_sync_bn(node):
    if isinstance(node, dict):
        if node.get('type') in ('SyncBN', 'MMSyncBN'):
            node['type'] = 'BN'
        for value in node.values():
            _replace_sync_bn(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _replace_sync_bn(value)


def adapt_to_machine(cfg: Config, launcher: str = 'none') -> Config:
    cuda = torch.cuda.is_available()
    distributed = launcher != 'none'
    if not cuda:
        cfg.setdefault('env_cfg', ConfigDict())
        cfg.env_cfg.setdefault('dist_cfg', ConfigDict())
        cfg.env_cfg.dist_cfg['backend'] = 'gloo'
        if distributed:
            wrapper = cfg.get('model_wrapper_cfg') or ConfigDict(type='MMDistributedDataParallel')
            wrapper['device_ids'] = None
            wrapper.setdefault('broadcast_buffers', False)
            wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
            cfg.model_wrapper_cfg = wrapper
    if not cuda or not distributed:
        _replace_sync_bn(cfg.model)
    return cfg


def use_amp(cfg: Config) -> Config:
    """``--amp``: mmengine's float16 AMP with loss scaling on a GPU, bfloat16 autocast on CPU."""
    if torch.cuda.is_available():
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    else:
        cfg.optim_wrapper.type = 'mmcoc.CPUAutocastOptimWrapper'
    return cfg


def launcher_problem(launcher: str) -> Optional[str]:
    """Why ``launcher`` cannot start here (one line naming the fix), or None."""
    if launcher == 'pytorch' and not torch.cuda.is_available() and not dist.is_initialized():
        for var in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
            if var not in os.environ:
                return (f'--launcher pytorch needs {var} in the environment: start it with '
                        'tools/dist_train.sh or torchrun')
    elif launcher not in ('none', 'pytorch') and not torch.cuda.is_available():
        return (f'--launcher {launcher} is supported on GPUs only; on a CPU machine use '
                'tools/dist_train.sh (torchrun, gloo)')
    return None


def init_distributed(launcher: str):
    """Create the gloo process group of a CPU ``pytorch`` (torchrun) launch."""
    problem = launcher_problem(launcher)
    if problem:
        raise RuntimeError(problem)
    if launcher == 'pytorch' and not torch.cuda.is_available() and not dist.is_initialized():
        dist.init_process_group(backend='gloo')


def _destroy_process_group():
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def destroy_process_group_at_exit():
    """Destroy the default process group when the process ends, while Python is still whole.

    Nothing else destroys it (mmengine never does): it is then freed while the interpreter
    finalizes, when gloo's worker threads may still drop the last references to the tensors of
    the last collectives; a thread that needs the GIL then is ended by Python
    (``pthread_exit``) inside a C++ destructor, and the process aborts with ``terminate called
    without an active exception`` after its results are written (rank 1 of
    ``tools/dist_test.sh ... 2``, now and then: a race; pytorch/pytorch#190489). ``atexit``
    runs before finalization, also after an exception; registered once.
    """
    atexit.unregister(_destroy_process_group)
    atexit.register(_destroy_process_group)


class ConfigError(ValueError):
    """A setting of a config (or of its ``--cfg-options``) that cannot run; the message is one
    line naming the setting and the fix."""


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _optimizers(node, key):
    """(dotted key, optimizer dict) of every ``optimizer`` under an ``optim_wrapper`` (one
    wrapper, or a dict of wrappers for a multi-optimizer constructor)."""
    if isinstance(node, dict):
        if isinstance(node.get('optimizer'), dict):
            yield f'{key}.optimizer', node['optimizer']
        for name, value in node.items():
            if name != 'optimizer' and isinstance(value, dict):
                yield from _optimizers(value, f'{key}.{name}')


def config_problems(cfg: Config) -> list:
    """What in ``cfg`` mmengine would run silently wrong (``max_epochs=-1`` trains nothing and
    exits 0) or stop on with a traceback deep inside (``lr=abc``): one line each, naming the
    key and an accepted value."""
    problems = []

    def need(ok, key, value, what, example):
        if not ok:
            problems.append(f'{key}={value!r}: {what}; set it with --cfg-options '
                            f'{key}={example}')

    train_cfg = cfg.get('train_cfg') or {}
    if isinstance(train_cfg, dict):
        for key in ('max_epochs', 'max_iters', 'val_interval', 'val_begin'):
            if key in train_cfg:
                value = train_cfg[key]
                need(_is_int(value) and value >= 1, f'train_cfg.{key}', value,
                     'must be a positive integer', 12 if key == 'max_epochs' else
                     (1000 if key == 'max_iters' else 1))
    for key, optimizer in _optimizers(cfg.get('optim_wrapper') or {}, 'optim_wrapper'):
        for name, example in (('lr', 0.01), ('weight_decay', 0.05), ('momentum', 0.9)):
            if name in optimizer:
                value = optimizer[name]
                need(_is_number(value) and value >= 0, f'{key}.{name}', value,
                     'must be a number >= 0', example)
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if not isinstance(loader, dict):
            continue
        if 'batch_size' in loader:
            value = loader['batch_size']
            need(_is_int(value) and value >= 1, f'{split}_dataloader.batch_size', value,
                 'must be a positive integer', 2)
        if 'num_workers' in loader:
            value = loader['num_workers']
            need(_is_int(value) and value >= 0, f'{split}_dataloader.num_workers', value,
                 'must be an integer >= 0', 2)
    auto_scale = cfg.get('auto_scale_lr') or {}
    if isinstance(auto_scale, dict) and 'base_batch_size' in auto_scale:
        value = auto_scale['base_batch_size']
        need(_is_int(value) and value >= 1, 'auto_scale_lr.base_batch_size', value,
             'must be a positive integer', 16)
    return problems


def check_config(cfg: Config) -> Config:
    """``cfg``, or ``ConfigError`` with the first of ``config_problems``."""
    problems = config_problems(cfg)
    if problems:
        more = f' (and {len(problems) - 1} more)' if len(problems) > 1 else ''
        raise ConfigError(problems[0] + more)
    return cfg


def load_config(path: str, launcher: str = 'none', cfg_options: Optional[dict] = None,
                work_dir: Optional[str] = None) -> Config:
    """A tool's config: ``--cfg-options`` merged, the work dir from ``--work-dir``, else the
    config's own, else ``work_dirs/<config name>`` (as the OpenMMLab tools do). The merged
    settings are checked (``check_config``): ``ConfigError`` names a setting that cannot run."""
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    check_config(cfg)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    return cfg


def build_model(cfg: Config) -> nn.Module:
    """The config's model alone (no runner, no weights loaded), built in the config's registry
    scope after adapting the config to this machine."""
    adapt_to_machine(cfg)
    init_default_scope(cfg.get('default_scope', 'mmcoc'))
    return MODELS.build(cfg.model)


def build_runner(cfg: Config, launcher: str = 'none', trust_checkpoint: bool = False) -> Runner:
    """The runner of the tools: the config's ``runner_type``, ``mmcoc.RecoverableRunner`` for a
    config that names none; built as mmdet's, mmseg's and mmpretrain's train scripts do.
    ``trust_checkpoint`` lets it unpickle ``load_from``/``resume`` files in full."""
    cfg.launcher = launcher
    cfg.setdefault('runner_type', 'mmcoc.RecoverableRunner')
    if trust_checkpoint:
        cfg.trust_checkpoint = True
    return RUNNERS.build(cfg)
