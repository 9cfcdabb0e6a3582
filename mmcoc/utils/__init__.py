from .checkpoint import load_checkpoint_file, load_weights

__all__ = ['load_checkpoint_file', 'load_weights']
