import math

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop

from mmcoc.registry import HOOKS


def _as_float(value) -> float:
    if isinstance(value, torch.Tensor):
        return float(value.detach().float().mean()) if value.numel() else 0.0
    return float(np.mean(value))


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Stops training at the first iteration whose loss is NaN or Inf, naming it, before a
    checkpoint is written.

    mmengine trains on: the step of a NaN loss turns the weights into NaN, the next checkpoint
    (and ``last_checkpoint``) holds them, and the run ends with exit code 0. The loss terms of
    each iteration (``outputs`` of ``after_train_iter``: mmengine's ``parse_losses``, whose
    ``loss`` sums every term named ``*loss*``) are checked right after its step, at a priority
    above the checkpoint hooks (``VERY_LOW``), which save in this same ``after_train_iter`` or
    in ``after_train_epoch``: raising here skips both, and the validation after it (and
    ``EMAHook``, ``ABOVE_NORMAL`` in the ImageNet configs, never averages the NaN in). No extra
    device sync: ``RuntimeInfoHook`` already reads every term as a number each iteration.
    """
    priority = 'HIGH'

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if not isinstance(outputs, dict):
            return
        values = {key: _as_float(value) for key, value in outputs.items()
                  if 'loss' in key and isinstance(value, (torch.Tensor, np.ndarray, float, int))}
        bad = {key: value for key, value in values.items() if not math.isfinite(value)}
        if not bad:
            return
        where = f'iteration {runner.iter + 1}'
        if isinstance(getattr(runner, 'train_loop', None), EpochBasedTrainLoop):
            where += f' (epoch {runner.epoch + 1}, batch {batch_idx + 1})'
        terms = ', '.join(f'{key}={value}' for key, value in bad.items())
        raise FloatingPointError(
            f'training stopped at {where}: the loss is not finite ({terms}); no checkpoint of '
            'it was written. Lower the learning rate, clip gradients '
            '(optim_wrapper.clip_grad=dict(max_norm=...)), check the data and annotations '
            '(or train without --amp), then resume from the last checkpoint.')
