from .optim_wrapper import CPUAutocastOptimWrapper
from .runtime import adapt_to_machine, init_distributed, use_amp

__all__ = ['CPUAutocastOptimWrapper', 'adapt_to_machine', 'init_distributed', 'use_amp']
