from .backbones import ContextCluster, checkpoint_filter_fn
from .layers import ContextClusterMixer, context_cluster
from .timm_models import ContextClusterClassifier

__all__ = ['ContextCluster', 'ContextClusterClassifier', 'ContextClusterMixer',
           'checkpoint_filter_fn', 'context_cluster']
