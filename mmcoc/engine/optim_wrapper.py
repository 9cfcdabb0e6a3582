from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper

from mmcoc.registry import OPTIM_WRAPPERS

from .amp_compat import check_mmcv_version, float32_mmcv_ops


@OPTIM_WRAPPERS.register_module()
class CPUAutocastOptimWrapper(OptimWrapper):
    """``--amp`` on a CPU: forward under ``torch.autocast('cpu', bfloat16)``.

    mmengine's ``AmpOptimWrapper`` needs a GPU. bfloat16 has float32's exponent range, so no
    loss scaling is needed; parameters and optimizer state stay float32. mmcv's float32-only
    CPU ops (NMS, RoIAlign) compute in float32 inside the region: each step's forward and
    backward run inside ``mmcoc.engine.amp_compat.float32_mmcv_ops``, and mmcv is its own
    between steps and after the run.
    """

    def __init__(self, *args, dtype: str = 'bfloat16', **kwargs):
        super().__init__(*args, **kwargs)
        self.cast_dtype = getattr(torch, dtype)
        check_mmcv_version()  # before training, not at its first step

    @contextmanager
    def optim_context(self, model):
        with super().optim_context(model), float32_mmcv_ops(), \
                torch.autocast('cpu', dtype=self.cast_dtype):
            yield

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        with float32_mmcv_ops():
            super().backward(loss, **kwargs)
