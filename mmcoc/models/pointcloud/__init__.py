"""Point-cloud classification: PointMLP and PointMLP_CoC, their head and data preprocessor,
furthest-point sampling and kNN in plain torch."""
from .data_preprocessor import PointCloudDataPreprocessor
from .head import PointMLPClsHead
from .ops import furthest_point_sample, gather_points, knn_query
from .pointmlp import (
    GroupContextCluster,
    GroupWeights,
    LocalGrouper,
    PointMLP,
    group_weights,
    official_key,
)

__all__ = ['GroupContextCluster', 'GroupWeights', 'LocalGrouper', 'PointCloudDataPreprocessor',
           'PointMLP', 'PointMLPClsHead', 'furthest_point_sample', 'gather_points', 'group_weights',
           'knn_query', 'official_key']
