from .assignment import RecordsAssignment
from .cluster_pooling import ClusterPool, cluster_pool
from .clustering import ContextClusterMixer, context_cluster
from .equal_clustering import equal_cluster_attention, equal_cluster_order
from .sec_attention import SECAttention, apply_rotary, rotary_tables

__all__ = ['ClusterPool', 'ContextClusterMixer', 'RecordsAssignment', 'SECAttention',
           'apply_rotary', 'cluster_pool', 'context_cluster', 'equal_cluster_attention',
           'equal_cluster_order', 'rotary_tables']
