"""Configs as the tools, the apis and the demo read them, and what a config needs to run on the
machine at hand. No training machinery: inference imports this without the engine.

Experiment configs are written for the published setting (8 GPUs, nccl, SyncBN where the
OpenMMLab bases use it). On a machine without CUDA two mmengine defaults do not work; they are
changed here (``adapt_to_machine``) so that users never edit a config for it:
- the process group: nccl needs CUDA (``mmcoc.engine.init_distributed`` creates a gloo group);
- DDP: mmengine passes ``device_ids=[local_rank]``, which CPU modules refuse.
SyncBN, which needs CUDA and a process group, is turned into BN after the model is built
(mmengine's ``revert_sync_batchnorm``: ``build_model`` here, ``mmcoc.RecoverableRunner``).
"""
import ast
import os
import os.path as osp
import tempfile
from typing import Optional

import torch
import torch.distributed as dist
import torch.nn as nn
from mmengine.config import Config, ConfigDict
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import MODELS, init_default_scope

from mmcoc.utils.paths import project_file

PACKAGE_PREFIX = 'mmcoc::'


def type_name(cfg) -> str:
    """The class name a config dict's ``type`` names, without its scope (``mmcoc.X`` -> ``X``)."""
    kind = cfg.get('type', '')
    return (kind if isinstance(kind, str) else kind.__name__).split('.')[-1]


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
            _strategy_on_cpu(cfg.get('strategy'))
    return cfg


def _strategy_on_cpu(strategy) -> None:
    # FlexibleRunner's strategies wrap the model themselves, with mmengine's CUDA device
    # (device_ids=[local_rank] for DDP, device_id=local_rank for FSDP, which accepts the CPU
    # only when named)
    if not isinstance(strategy, dict):
        return
    name = type_name(strategy)
    wrapper = strategy.get('model_wrapper') or ConfigDict()
    if name == 'DDPStrategy':
        wrapper['device_ids'] = None
        wrapper.setdefault('broadcast_buffers', False)
    elif name == 'FSDPStrategy':
        wrapper['device_id'] = 'cpu'
    else:
        return
    strategy['model_wrapper'] = wrapper


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


def package_config(name: str) -> str:
    """The file of ``mmcoc::<path under configs/>`` (``mmcoc::context_cluster/coc_small_in1k.py``):
    the checkout's configs, or those a wheel installs under ``mmcoc/.mim``."""
    relative = name[len(PACKAGE_PREFIX):]
    path = project_file('configs', relative)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{name}: mmcoc has no config {relative!r}; its configs are the '
                                f'files under {project_file("configs")}')
    return path


def _base_strings(path: str):
    """The string constants of the ``_base_ = ...`` assignment of a Python config."""
    with open(path, encoding='utf-8') as f:
        source = f.read()
    for node in ast.parse(source, filename=path).body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == '_base_' for t in node.targets):
            return source, [c for c in ast.walk(node.value)
                            if isinstance(c, ast.Constant) and isinstance(c.value, str)]
    return source, []


def _resolve_package_bases(path: str, folder: str) -> str:
    """``path`` itself where no config of its ``_base_`` chain names ``mmcoc::``, else a copy in
    ``folder`` whose bases are absolute paths (mmengine 0.10 reads ``pkg::`` bases only for the
    packages of its own list, and an absolute base is read from anywhere)."""
    if not path.endswith('.py'):
        return path
    source, constants = _base_strings(path)
    targets, changed = [], False
    for constant in constants:
        name = constant.value
        if name.startswith(PACKAGE_PREFIX):
            target, changed = package_config(name), True
        elif '::' in name:  # mmdet::..., mmengine reads those itself
            target = None
        else:
            target = osp.join(osp.dirname(osp.abspath(path)), name)
        if target is not None:
            resolved = _resolve_package_bases(target, folder)
            changed = changed or resolved != target
            targets.append((constant, resolved))
    if not changed:
        return path
    lines = source.encode('utf-8').splitlines(keepends=True)
    # replaced from the end so that earlier offsets (bytes, as ast counts them) stay valid
    for constant, target in sorted(targets, key=lambda t: (t[0].lineno, t[0].col_offset),
                                   reverse=True):
        if constant.lineno != constant.end_lineno:
            raise ValueError(f'{path}: a _base_ entry spans lines; write it on one line')
        line = lines[constant.lineno - 1]
        lines[constant.lineno - 1] = (line[:constant.col_offset] + repr(target).encode('utf-8')
                                      + line[constant.end_col_offset:])
    copy = osp.join(tempfile.mkdtemp(dir=folder), osp.basename(path))
    with open(copy, 'wb') as f:
        f.write(b''.join(lines))
    return copy


def read_config(path: str) -> Config:
    """``Config.fromfile`` where mmcoc's own configs are also reachable by package name, as the
    file (``mmcoc::demo/coc_tiny_plain_cls_demo.py``) and in ``_base_`` lists, which mmengine
    0.10 refuses for packages outside its list (``mmengine.hub.get_config`` too). Another
    package's config by name (``mmdet::mask_rcnn/...``) is mmengine's ``get_config``."""
    if path.startswith(PACKAGE_PREFIX):
        path = package_config(path)
    elif '::' in path:
        from mmengine.hub import get_config
        return get_config(path)
    with tempfile.TemporaryDirectory(prefix='mmcoc_config_') as folder:
        resolved = _resolve_package_bases(path, folder)
        cfg = Config.fromfile(resolved)
        if resolved != path:  # named by the user's file, not by the copy
            cfg = Config(cfg.to_dict(), cfg_text=cfg.text, filename=path)
    return cfg


def load_config(path: str, launcher: str = 'none', cfg_options: Optional[dict] = None,
                work_dir: Optional[str] = None) -> Config:
    """A tool's config (a file, or ``mmcoc::<path under configs/>``): ``--cfg-options`` merged,
    the work dir from ``--work-dir``, else the config's own, else ``work_dirs/<config name>``
    (as the OpenMMLab tools do). The merged settings are checked (``check_config``):
    ``ConfigError`` names a setting that cannot run."""
    cfg = read_config(path)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    check_config(cfg)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    return cfg


def batch_norm_for_machine(model: nn.Module, distributed: bool) -> nn.Module:
    """``model`` with SyncBN as BN where SyncBN cannot run: it needs CUDA and a process group."""
    if not torch.cuda.is_available() or not distributed:
        model = revert_sync_batchnorm(model)
    return model


def build_model(cfg: Config) -> nn.Module:
    """The config's model alone (no runner, no weights loaded), built in the config's registry
    scope, with SyncBN as BN (one model alone has no process group)."""
    adapt_to_machine(cfg)
    init_default_scope(cfg.get('default_scope', 'mmcoc'))
    return batch_norm_for_machine(MODELS.build(cfg.model), distributed=False)
