from .naive_cluster import naive_context_cluster
from .naive_fec import naive_cluster_pool, naive_fec_cluster
from .official_layouts import official_classification, official_dense, perturbed

__all__ = ['naive_cluster_pool', 'naive_context_cluster', 'naive_fec_cluster',
           'official_classification', 'official_dense', 'perturbed']
