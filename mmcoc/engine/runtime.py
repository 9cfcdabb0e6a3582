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


def init_distributed(launcher: str):
    """Create the gloo process group of a CPU ``pytorch`` (torchrun) launch."""
    if launcher == 'pytorch' and not torch.cuda.is_available() and not dist.is_initialized():
        for var in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
            if var not in os.environ:
                raise RuntimeError(f'--launcher pytorch needs {var} in the environment: start '
                                   'it with tools/dist_train.sh or torchrun')
        dist.init_process_group(backend='gloo')
    elif launcher not in ('none', 'pytorch') and not torch.cuda.is_available():
        raise RuntimeError(f'--launcher {launcher} is supported on GPUs only; on a CPU machine '
                           'use tools/dist_train.sh (torchrun, gloo)')


def load_config(path: str, launcher: str = 'none', cfg_options: Optional[dict] = None,
                work_dir: Optional[str] = None) -> Config:
    """A tool's config: ``--cfg-options`` merged, the work dir from ``--work-dir``, else the
    config's own, else ``work_dirs/<config name>`` (as the OpenMMLab tools do)."""
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
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
