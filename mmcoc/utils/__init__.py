from .checkpoint import from_plain, load_checkpoint_file, load_weights, to_plain

__all__ = ['from_plain', 'load_checkpoint_file', 'load_weights', 'to_plain']
