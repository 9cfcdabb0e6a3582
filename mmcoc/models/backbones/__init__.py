from .context_cluster import ContextCluster, checkpoint_filter_fn
from .fec import FEC
from .secvit import SecViT
from .vgg import VGG

__all__ = ['ContextCluster', 'FEC', 'SecViT', 'checkpoint_filter_fn']
__all__ += ['VGG']
