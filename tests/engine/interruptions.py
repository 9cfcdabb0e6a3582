"""Test helper: a run that SIGKILLs itself at a chosen point, or hangs half-way through writing
a checkpoint so that the test can SIGKILL it from outside.

``MMCOC_TEST_KILL=HOOK:ITER`` kills the process when the runner calls ``HOOK`` at training
iteration ``ITER`` (iterations finished so far). ``HOOK`` ``hang_in_save`` writes half of the
checkpoint saved at that point, creates ``WORK_DIR/hanging`` and sleeps.
"""
import os
import signal
import time
from pathlib import Path

from mmengine.hooks import Hook
from mmengine.registry import HOOKS

import mmcoc.utils.fileio as fileio


class _HalfWrittenFile:
    """A file that takes half of what is written to it, says so, and hangs."""

    def __init__(self, file, marker):
        self.file, self.marker = file, marker

    def write(self, data):
        self.file.write(data[:len(data) // 2])
        self.file.flush()
        Path(self.marker).touch()
        time.sleep(600)

    def __getattr__(self, name):
        return getattr(self.file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.file.close()


@HOOKS.register_module()
class InterruptionHook(Hook):
    priority = 'VERY_HIGH'

    def __init__(self):
        point = os.environ.get('MMCOC_TEST_KILL', '')
        self.hook, _, at = point.partition(':')
        self.at = int(at) if at else -1

    def _maybe_kill(self, runner, hook):
        if hook == self.hook and runner.iter == self.at:
            os.kill(os.getpid(), signal.SIGKILL)

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self._maybe_kill(runner, 'before_train_iter')

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self._maybe_kill(runner, 'after_val_iter')

    def before_save_checkpoint(self, runner, checkpoint):
        if self.hook == 'hang_in_save' and runner.iter == self.at:
            marker = os.path.join(runner.work_dir, 'hanging')
            fileio.open = lambda path, mode: _HalfWrittenFile(open(path, mode), marker)
