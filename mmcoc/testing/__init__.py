from .naive_cluster import naive_context_cluster

__all__ = ['naive_context_cluster']
