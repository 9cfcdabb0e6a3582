from .checkpoint import from_plain, load_checkpoint_file, to_plain
from .weights_fit import check_fit, load_weights

__all__ = ['check_fit', 'from_plain', 'load_checkpoint_file', 'load_weights', 'to_plain']
