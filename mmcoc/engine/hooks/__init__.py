from .cluster_visualization_hook import ClusterVisualizationHook
from .deepcluster_hook import DeepClusterHook

__all__ = ['DeepClusterHook']
__all__ += ['ClusterVisualizationHook']
