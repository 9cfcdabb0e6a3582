"""Metrics of mmcoc's tasks beyond the hosts' own."""
from .metrics import MeanClassAccuracy

__all__ = ['MeanClassAccuracy']
