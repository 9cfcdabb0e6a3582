"""The training machinery mmcoc adds to a run, through mmengine's extension points: the runner
(``mmcoc.RecoverableRunner``), hooks, the CPU autocast optim wrapper. Inference does not need
it (``mmcoc.utils.config`` reads and adapts configs)."""
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
from .runner import RecoverableRunner
from .runtime import build_runner, init_distributed, use_amp

__all__ = ['CPUAutocastOptimWrapper', 'CheckpointFitHook', 'ClusterVisualizationHook',
           'DeepClusterHook', 'ExactResumeHook', 'FiniteInputsHook', 'FiniteLossHook',
           'PlainCheckpointHook', 'RankZeroLoggerHook', 'RecoverableRunner', 'ReseedingLoader',
           'WorkDirLockHook', 'build_runner', 'init_distributed', 'make_recoverable', 'use_amp']
