from mmengine.hooks import Hook

from mmcoc.registry import HOOKS
from mmcoc.utils.inputs import check_finite_images


@HOOKS.register_module()
class FiniteInputsHook(Hook):
    """Refuses a batch whose images hold NaN or Inf, naming the step, before the model sees it.

    The images are checked where they enter, on the CPU before the data preprocessor moves them
    (integer images, every decoded 8/16-bit file, cost nothing): no device sync per step.
    """
    priority = 'VERY_HIGH'

    def _check(self, mode: str, batch_idx: int, data_batch):
        if isinstance(data_batch, dict):
            check_finite_images(data_batch.get('inputs'), f'{mode} batch {batch_idx}')

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self._check('train', batch_idx, data_batch)

    def before_val_iter(self, runner, batch_idx, data_batch=None):
        self._check('val', batch_idx, data_batch)

    def before_test_iter(self, runner, batch_idx, data_batch=None):
        self._check('test', batch_idx, data_batch)
