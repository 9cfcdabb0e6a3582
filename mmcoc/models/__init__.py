from .backbones import FEC, ContextCluster, SecViT, checkpoint_filter_fn
from .layers import ContextClusterMixer, context_cluster
from .segmentors import MemoryBoundedEncoderDecoder
from .selfsup import DeepCluster, SobelDataPreprocessor
from .timm_models import ContextClusterClassifier, FECClassifier
from .weight_layouts import LAYOUTS, convert_checkpoint

__all__ = ['ContextCluster', 'ContextClusterClassifier', 'FEC', 'FECClassifier',
           'ContextClusterMixer', 'LAYOUTS', 'MemoryBoundedEncoderDecoder',
           'SecViT', 'checkpoint_filter_fn', 'context_cluster', 'convert_checkpoint']
__all__ += ['DeepCluster', 'SobelDataPreprocessor']
