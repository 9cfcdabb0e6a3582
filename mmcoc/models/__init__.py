from .backbones import FEC, ContextCluster, SecViT, checkpoint_filter_fn
from .layers import ContextClusterMixer, context_cluster
from .necks import SecViTNeck
from .pointcloud import PointCloudDataPreprocessor, PointMLP, PointMLPClsHead
from .segmentors import MemoryBoundedEncoderDecoder
from .selfsup import DeepCluster, SobelDataPreprocessor
from .timm_models import ContextClusterClassifier, FECClassifier, SecViTClassifier
from .weight_layouts import LAYOUTS, convert_checkpoint

__all__ = ['ContextCluster', 'ContextClusterClassifier', 'ContextClusterMixer', 'DeepCluster',
           'FEC', 'FECClassifier', 'LAYOUTS', 'MemoryBoundedEncoderDecoder',
           'PointCloudDataPreprocessor', 'PointMLP', 'PointMLPClsHead', 'SecViT',
           'SecViTClassifier', 'SecViTNeck', 'SobelDataPreprocessor', 'checkpoint_filter_fn',
           'context_cluster', 'convert_checkpoint']
