from .context_cluster import ContextCluster, checkpoint_filter_fn

__all__ = ['ContextCluster', 'checkpoint_filter_fn']
