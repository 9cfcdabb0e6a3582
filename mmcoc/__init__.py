"""mmcoc: clustering-based vision backbones for mmdet, mmseg, mmpretrain and timm.

``import mmcoc`` checks the installed host packages against the ranges in ``pyproject.toml`` and
registers mmcoc's modules in its registry scope (``mmcoc.ContextCluster``, ...) and its models in
timm (``coc_small``, ...). It changes no object of mmengine, mmcv, mmdet, mmseg, mmpretrain or
torch: what mmcoc adds to a run is named in the config (``runner_type='mmcoc.RecoverableRunner'``,
loops, hooks, ``mmcoc.CPUAutocastOptimWrapper``) or chosen by the tools.
"""
from .version import __version__, check_host_versions

check_host_versions()

from . import datasets, engine, evaluation, models  # noqa: E402,F401  (registers modules)
from .registry import MODELS  # noqa: E402

__all__ = ['MODELS', '__version__']
