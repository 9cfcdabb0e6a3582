from .cluster_visualization_hook import ClusterVisualizationHook
from .deepcluster_hook import DeepClusterHook
from .finite_inputs_hook import FiniteInputsHook
from .finite_loss_hook import FiniteLossHook
from .work_dir_lock_hook import WorkDirLockHook

__all__ = ['DeepClusterHook']
__all__ += ['ClusterVisualizationHook']
__all__ += ['FiniteInputsHook']
__all__ += ['FiniteLossHook']
__all__ += ['WorkDirLockHook']
