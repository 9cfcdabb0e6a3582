from .checkpoint import (load_checkpoint_file, load_weights, register_checkpoint_loader,
                         trust_directory)

__all__ = ['load_checkpoint_file', 'load_weights', 'register_checkpoint_loader',
           'trust_directory']
