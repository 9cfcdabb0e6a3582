from .naive_cluster import naive_context_cluster
from .official_layouts import official_classification, official_dense, perturbed

__all__ = ['naive_context_cluster', 'official_classification', 'official_dense', 'perturbed']
