from .deepcluster import DeepCluster
from .sobel import Sobel, SobelDataPreprocessor

__all__ = ['DeepCluster', 'Sobel', 'SobelDataPreprocessor']
