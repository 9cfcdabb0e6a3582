from .cluster_visualization_hook import ClusterVisualizationHook
from .deepcluster_hook import DeepClusterHook
from .finite_inputs_hook import FiniteInputsHook
from .finite_loss_hook import FiniteLossHook
from .logger_hook import RankZeroLoggerHook
from .work_dir_lock_hook import WorkDirLockHook

__all__ = ['ClusterVisualizationHook', 'DeepClusterHook', 'FiniteInputsHook', 'FiniteLossHook',
           'RankZeroLoggerHook', 'WorkDirLockHook']
