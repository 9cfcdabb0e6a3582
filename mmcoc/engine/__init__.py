"""The training machinery mmcoc adds to a run, through mmengine's extension points: the runners
(``mmcoc.RecoverableRunner``, ``mmcoc.RecoverableFlexibleRunner`` and its strategies), hooks, the
CPU autocast optim wrapper. Inference does not need it (``mmcoc.utils.config`` reads and adapts
configs)."""
from .hooks import (
    ClusterVisualizationHook,
    DeepClusterHook,
    FiniteInputsHook,
    FiniteLossHook,
    RankZeroLoggerHook,
    WorkDirLockHook,
)
from .optim_wrapper import CPUAutocastOptimWrapper
from .recovery import (
    CheckpointFitHook,
    ExactResumeHook,
    PlainCheckpointHook,
    ReseedingLoader,
    make_recoverable,
)
from .runner import RecoverableFlexibleRunner, RecoverableRunner
from .runtime import build_runner, init_distributed, use_amp
from .strategies import DDPStrategy, FSDPStrategy, SingleDeviceStrategy

__all__ = ['CPUAutocastOptimWrapper', 'CheckpointFitHook', 'ClusterVisualizationHook',
           'DDPStrategy', 'DeepClusterHook', 'ExactResumeHook', 'FSDPStrategy',
           'FiniteInputsHook', 'FiniteLossHook', 'PlainCheckpointHook', 'RankZeroLoggerHook',
           'RecoverableFlexibleRunner', 'RecoverableRunner', 'ReseedingLoader',
           'SingleDeviceStrategy', 'WorkDirLockHook', 'build_runner', 'init_distributed',
           'make_recoverable', 'use_amp']
