"""Point-cloud classification: PointMLP and PointMLP_CoC, their head and data preprocessor,
furthest-point sampling and kNN in plain torch."""
from .data_preprocessor import PointCloudDataPreprocessor
from .head import PointMLPClsHead
from .ops import furthest_point_sample, gather_points, knn_query
from .pointmlp import GroupContextCluster, LocalGrouper, PointMLP, group_similarity, official_key

__all__ = ['GroupContextCluster', 'LocalGrouper', 'PointCloudDataPreprocessor', 'PointMLP',
           'PointMLPClsHead', 'furthest_point_sample', 'gather_points', 'group_similarity',
           'knn_query', 'official_key']
