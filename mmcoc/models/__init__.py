from .backbones import FEC, ContextCluster, SecViT, checkpoint_filter_fn
from .layers import ContextClusterMixer, context_cluster
from .necks import SecViTNeck
from .segmentors import MemoryBoundedEncoderDecoder
from .selfsup import DeepCluster, SobelDataPreprocessor
from .timm_models import ContextClusterClassifier, FECClassifier, SecViTClassifier
from .weight_layouts import LAYOUTS, convert_checkpoint

__all__ = ['ContextCluster', 'ContextClusterClassifier', 'ContextClusterMixer', 'FEC',
           'FECClassifier', 'LAYOUTS', 'MemoryBoundedEncoderDecoder', 'SecViT',
           'SecViTClassifier', 'SecViTNeck', 'checkpoint_filter_fn', 'context_cluster',
           'convert_checkpoint']
__all__ += ['DeepCluster', 'SobelDataPreprocessor']
from .pointcloud import PointCloudDataPreprocessor, PointMLP, PointMLPClsHead
__all__ += ['PointCloudDataPreprocessor', 'PointMLP', 'PointMLPClsHead']
