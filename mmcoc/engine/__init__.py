from .hooks import ClusterVisualizationHook, DeepClusterHook, FiniteInputsHook
from .optim_wrapper import CPUAutocastOptimWrapper
from .recovery import (AtomicCheckpointHook, CheckpointFitHook, PlainCheckpointHook,
                       ResumableEpochBasedTrainLoop, ResumableIterBasedTrainLoop, make_recoverable)
from .runner import RecoverableRunner
from .runtime import (ConfigError, adapt_to_machine, build_model, build_runner, check_config,
                      init_distributed, load_config, use_amp)

__all__ = ['AtomicCheckpointHook', 'CPUAutocastOptimWrapper', 'CheckpointFitHook',
           'ClusterVisualizationHook', 'ConfigError', 'DeepClusterHook', 'FiniteInputsHook',
           'PlainCheckpointHook', 'RecoverableRunner', 'ResumableEpochBasedTrainLoop',
           'ResumableIterBasedTrainLoop', 'adapt_to_machine', 'build_model', 'build_runner',
           'check_config', 'init_distributed', 'load_config', 'make_recoverable', 'use_amp']
