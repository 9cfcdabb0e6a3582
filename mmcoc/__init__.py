"""mmcoc: clustering-based vision backbones for mmdet, mmseg, mmpretrain and timm.

``import mmcoc`` registers every module in the ``mmcoc`` registry scope and the ``coc_*`` timm
models, routes mmengine's local checkpoint reading through
``mmcoc.utils.load_checkpoint_file`` (weights-only unless trusted) and its local file writing
through ``mmcoc.utils.fileio.AtomicLocalBackend`` (a file is replaced whole or not at all),
and makes mmcv's float32-only CPU ops (nms, RoIAlign) compute in float32 under CPU autocast
(``mmcoc.engine.amp_compat``).
"""
__version__ = '0.1.0'

from . import engine, models  # noqa: E402,F401  (registers modules)
from .registry import MODELS  # noqa: E402
from .engine.amp_compat import cast_mmcv_ops_to_float32_under_cpu_autocast  # noqa: E402
from .utils import register_checkpoint_loader  # noqa: E402
from .utils.fileio import register_atomic_local_backend  # noqa: E402

register_checkpoint_loader()
register_atomic_local_backend()
# at import, not in CPUAutocastOptimWrapper: any CPU autocast region needs it (tools/test.py or
# an inferencer under torch.autocast too), and it changes nothing outside one
cast_mmcv_ops_to_float32_under_cpu_autocast()

__all__ = ['MODELS', '__version__']
