from . import custom_ops  # noqa: F401  (registers torch.ops.mmcoc.*)
from .assignment import RecordsAssignment
from .cluster_pooling import ClusterPool, cluster_pool, count_released_parameters
from .clustering import ContextClusterMixer, context_cluster
from .equal_clustering import equal_cluster_attention, equal_cluster_order
from .mlp import mlp_residual
from .resize import stable_bilinear_resize
from .sec_attention import SECAttention, apply_rotary, rotary_tables
from .tracing import is_exporting, is_fx_tracing, register_leaf_functions, run_block

# torch.fx records one call of each clustering op instead of tracing its shape-dependent Python
register_leaf_functions(context_cluster, cluster_pool, equal_cluster_attention)

__all__ = ['ClusterPool', 'ContextClusterMixer', 'RecordsAssignment', 'SECAttention',
           'count_released_parameters',
           'apply_rotary', 'cluster_pool', 'context_cluster', 'equal_cluster_attention',
           'equal_cluster_order', 'is_exporting', 'is_fx_tracing', 'mlp_residual',
           'register_leaf_functions', 'rotary_tables', 'run_block', 'stable_bilinear_resize']
