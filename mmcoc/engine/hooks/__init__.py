from .cluster_visualization_hook import ClusterVisualizationHook
from .deepcluster_hook import DeepClusterHook
from .finite_inputs_hook import FiniteInputsHook

__all__ = ['DeepClusterHook']
__all__ += ['ClusterVisualizationHook']
__all__ += ['FiniteInputsHook']
