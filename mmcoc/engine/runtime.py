"""The parts of a run that are process-wide: the gloo process group of a CPU launch, its
destruction at exit, ``--amp`` on either device, and the runner of the tools."""
import atexit
import gc

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmcoc.utils.config import launcher_problem


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
    problem = launcher_problem(launcher)
    if problem:
        raise RuntimeError(problem)
    if launcher == 'pytorch' and not torch.cuda.is_available() and not dist.is_initialized():
        dist.init_process_group(backend='gloo')


def _destroy_process_group():
    if dist.is_available() and dist.is_initialized():
        # the runner is a reference cycle: until the collector frees it, its DDP wrapper's
        # reducer keeps gloo's backend (and its worker threads) alive past destroy_process_group
        gc.collect()
        dist.destroy_process_group()
        gc.collect()


def destroy_process_group_at_exit():
    """Free the default process group and its gloo threads when the process ends, while Python
    is still whole.

    Nothing else destroys it (mmengine never does): it is then freed while the interpreter
    finalizes, when gloo's worker threads may still drop the last references to the tensors of
    the last collectives; a thread that needs the GIL then is ended by Python
    (``pthread_exit``) inside a C++ destructor, and the process aborts with ``terminate called
    without an active exception`` after its results are written (either rank of
    ``tools/dist_test.sh ... 2``, about one run in two here; pytorch/pytorch#190489).
    ``destroy_process_group`` alone is not enough: the backend lives on while the runner (a
    cycle, collected late) holds the wrapped model, so the cycle is collected first. ``atexit``
    runs before finalization, also after an exception; registered once.
    """
    atexit.unregister(_destroy_process_group)
    atexit.register(_destroy_process_group)


def build_runner(cfg: Config, launcher: str = 'none', trust_checkpoint: bool = False) -> Runner:
    """The runner of the tools: the config's ``runner_type``, ``mmcoc.RecoverableRunner`` for a
    config that names none and ``mmcoc.RecoverableFlexibleRunner`` for mmengine's
    ``FlexibleRunner``; built as mmdet's, mmseg's and mmpretrain's train scripts do.
    ``trust_checkpoint`` lets it unpickle ``load_from``/``resume`` files in full."""
    cfg.launcher = launcher
    cfg.setdefault('runner_type', 'mmcoc.RecoverableRunner')
    if cfg.runner_type in ('FlexibleRunner', 'mmengine.FlexibleRunner'):
        # mmengine's would run without what mmcoc's runners add (hooks, weights-only reading)
        cfg.runner_type = 'mmcoc.RecoverableFlexibleRunner'
    if trust_checkpoint:
        cfg.trust_checkpoint = True
    return RUNNERS.build(cfg)
