"""mmcoc: clustering-based vision backbones for mmdet, mmseg, mmpretrain and timm.

``import mmcoc`` checks the installed host packages against the ranges in ``pyproject.toml``,
registers its models in timm (``coc_small``, ...) and creates its registry scope, which imports
mmcoc's modules (``mmcoc.ContextCluster``, ...) when a config first names one of them: mmdet,
mmseg and mmpretrain are imported only then (``tools/analysis_tools/benchmark_import.py``
measures what the import costs). It changes no object of mmengine, mmcv, mmdet, mmseg,
mmpretrain or torch: what mmcoc adds to a run is named in the config
(``runner_type='mmcoc.RecoverableRunner'``, hooks, ``mmcoc.CPUAutocastOptimWrapper``) or chosen
by the tools.
"""
from .version import __version__, check_host_versions

check_host_versions()

# timm knows its models by import; the registry scope imports the rest when a config first
# names one of them (the registries' `locations`), so mmdet, mmseg and mmpretrain are not
# imported here
from .models import timm_models  # noqa: E402,F401
from .registry import MODELS  # noqa: E402

__all__ = ['MODELS', '__version__']
