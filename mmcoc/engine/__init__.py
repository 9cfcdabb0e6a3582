from .hooks import DeepClusterHook
from .optim_wrapper import CPUAutocastOptimWrapper
from .recovery import (AtomicCheckpointHook, CheckpointFitHook, ResumableEpochBasedTrainLoop,
                       ResumableIterBasedTrainLoop, make_recoverable)
from .runtime import (adapt_to_machine, build_model, build_runner, init_distributed, load_config,
                      use_amp)

__all__ = ['CPUAutocastOptimWrapper', 'adapt_to_machine', 'build_model', 'build_runner',
           'init_distributed', 'load_config', 'use_amp']
__all__ += ['DeepClusterHook']
__all__ += ['AtomicCheckpointHook', 'CheckpointFitHook', 'ResumableEpochBasedTrainLoop',
            'ResumableIterBasedTrainLoop', 'make_recoverable']
