from mmcoc.utils.lazy import lazy_exports

from .context_cluster import ContextCluster, checkpoint_filter_fn
from .fec import FEC
from .secvit import SecViT

__all__ = ['ContextCluster', 'FEC', 'SecViT', 'VGG', 'checkpoint_filter_fn']
# VGG is mmpretrain's (DeepCluster's backbone): imported with mmpretrain, when first used
__getattr__ = lazy_exports(__name__, {'VGG': '.vgg'})
