from .cluster_pooling import ClusterPool, cluster_pool
from .clustering import ContextClusterMixer, context_cluster
from .equal_clustering import equal_cluster_attention, equal_cluster_order

__all__ = ['ClusterPool', 'cluster_pool', 'ContextClusterMixer', 'context_cluster',
           'equal_cluster_attention', 'equal_cluster_order']
