"""mmcoc: clustering-based vision backbones for mmdet, mmseg, mmpretrain and timm.

``import mmcoc`` registers every module in the ``mmcoc`` registry scope and the ``coc_*`` timm
models, and routes mmengine's local checkpoint reading through
``mmcoc.utils.load_checkpoint_file`` (weights-only unless trusted).
"""
__version__ = '0.1.0'

from . import engine, models  # noqa: E402,F401  (registers modules)
from .registry import MODELS  # noqa: E402
from .utils import register_checkpoint_loader  # noqa: E402

register_checkpoint_loader()

__all__ = ['MODELS', '__version__']
