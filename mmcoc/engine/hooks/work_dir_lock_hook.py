import logging

from mmengine.dist import broadcast_object_list, get_world_size, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmcoc.registry import HOOKS
from mmcoc.utils.lock import WorkDirLock, WorkDirLocked


@HOOKS.register_module()
class WorkDirLockHook(Hook):
    """Stops a training whose work dir another training holds, before it writes a checkpoint
    (``mmcoc.utils.lock``): one line naming the other run and what to do, exit code 1.

    Taken when training starts (``tools/test.py`` evaluating in a work dir under training is not
    stopped) by the main process, for all ranks; released when training ends and, through
    ``mmcoc.RecoverableRunner.train``, also when it fails.
    """
    priority = 'VERY_HIGH'

    def __init__(self):
        self._lock = None

    def before_train(self, runner) -> None:
        problem = [None]
        if is_main_process():
            lock = WorkDirLock(runner.work_dir)
            try:
                warning = lock.acquire()
            except WorkDirLocked as err:
                problem = [str(err)]
            else:
                self._lock = lock
                if warning:
                    print_log(warning, logger='current', level=logging.WARNING)
        if get_world_size() > 1:
            broadcast_object_list(problem)
        if problem[0]:
            raise SystemExit(problem[0] if is_main_process() else 1)

    def after_train(self, runner) -> None:
        self.release()

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
