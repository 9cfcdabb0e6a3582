from .clustering import ContextClusterMixer, context_cluster

__all__ = ['ContextClusterMixer', 'context_cluster']
