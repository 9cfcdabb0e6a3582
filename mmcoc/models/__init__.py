from .backbones import ContextCluster, checkpoint_filter_fn
from .layers import ContextClusterMixer, context_cluster
from .timm_models import ContextClusterClassifier
from .weight_layouts import LAYOUTS, convert_checkpoint

__all__ = ['ContextCluster', 'ContextClusterClassifier', 'ContextClusterMixer', 'LAYOUTS',
           'checkpoint_filter_fn', 'context_cluster', 'convert_checkpoint']
