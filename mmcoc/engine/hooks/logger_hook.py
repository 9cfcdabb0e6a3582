from mmengine.dist import is_main_process
from mmengine.hooks import LoggerHook

from mmcoc.registry import HOOKS


@HOOKS.register_module()
class RankZeroLoggerHook(LoggerHook):
    """mmengine's ``LoggerHook``, whose test metrics (``TIMESTAMP.json``) only the main process
    writes: mmengine's every rank dumps them into the same file at the same moment, and two
    writers of different lengths leave it with the tail of the longer (not JSON)."""

    def after_test_epoch(self, runner, metrics=None) -> None:
        if is_main_process():
            super().after_test_epoch(runner, metrics)
