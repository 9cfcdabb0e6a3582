from .naive_cluster import naive_context_cluster
from .naive_fec import naive_cluster_pool, naive_fec_cluster
from .naive_secvit import naive_sec_attention
from .official_coc import OfficialContextCluster
from .official_layouts import (
    network_layout,
    network_layout_key,
    official_classification,
    official_dense,
    perturbed,
)

__all__ = ['OfficialContextCluster', 'naive_cluster_pool', 'naive_context_cluster',
           'naive_fec_cluster', 'naive_sec_attention', 'network_layout', 'network_layout_key',
           'official_classification', 'official_dense', 'perturbed']
