"""One training per work dir.

Two runs training into one work dir overwrite each other's checkpoints and ``last_checkpoint``,
and ``max_keep_ckpts`` makes each delete the other's. ``WorkDirLock`` is a lock file in the work
dir, ``train.lock``, that names its holder (PID, host, command, start time) for the message of
the run it stops. It is held with ``flock``: the system frees it when its process ends, however
it ends, so a lock left by a crashed or killed run is taken over (with a warning naming that
run) and never needs deleting by hand. Where the file system has no ``flock`` the file alone
decides: it is taken over only when its PID is not running on this host.
"""
import json
import os
import os.path as osp
import socket
import sys
import time
from typing import Optional

from .fileio import pid_alive

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

LOCK_NAME = 'train.lock'


class WorkDirLocked(RuntimeError):
    """The work dir is held by another running training; the message names it and the fix."""


def _describe(holder: dict) -> str:
    command = holder.get('command')
    started = holder.get('started')
    return (f"PID {holder.get('pid', '?')} on {holder.get('host', '?')}"
            + (f' ({command})' if command else '') + (f', started {started}' if started else ''))


def _read(fd: int) -> Optional[dict]:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 1 << 16).decode(errors='replace')
    try:
        holder = json.loads(text)
    except ValueError:
        return None
    return holder if isinstance(holder, dict) else None


class WorkDirLock:
    """``train.lock`` in ``work_dir``, held by this process from ``acquire`` to ``release``."""

    def __init__(self, work_dir: str):
        self.work_dir = work_dir
        self.path = osp.join(work_dir, LOCK_NAME)
        self._fd = None

    def acquire(self) -> Optional[str]:
        """Take the lock, or raise ``WorkDirLocked``. Returns a warning where the lock of a run
        that ended without releasing it was taken over, else None."""
        if self._fd is not None:
            return None
        os.makedirs(self.work_dir, exist_ok=True)
        me = dict(pid=os.getpid(), host=socket.gethostname())
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            locked = self._flock(fd)
            try:  # a holder releasing deletes the file: retry on the one it is replaced by
                if locked is not False and os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                    break
            except FileNotFoundError:
                pass
            holder = _read(fd) if locked is False else None
            os.close(fd)
            if locked is False:
                raise self._refusal(holder)
        holder = _read(fd)
        warning = None
        if holder and {k: holder.get(k) for k in me} != me:
            # flock free: its process has ended. Without flock only a dead PID here tells.
            if locked is None and (holder.get('host') != me['host']
                                   or pid_alive(int(holder.get('pid', 0)))):
                os.close(fd)
                raise self._refusal(holder)
            warning = (f'{self.path}: taking over the lock of {_describe(holder)}, which ended '
                       'without releasing it (it crashed or was killed)')
        me.update(command=' '.join([osp.basename(sys.executable)] + sys.argv)[:300],
                  started=time.strftime('%Y-%m-%d %H:%M:%S'))
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(me).encode())
        os.fsync(fd)
        self._fd = fd
        return warning

    def release(self):
        if self._fd is None:
            return
        try:
            if os.fstat(self._fd).st_ino == os.stat(self.path).st_ino:
                os.remove(self.path)
        except FileNotFoundError:
            pass
        os.close(self._fd)  # frees the flock
        self._fd = None

    @staticmethod
    def _flock(fd: int) -> Optional[bool]:
        """True: locked; False: another process holds it; None: no flock here."""
        if fcntl is None:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError:  # ENOLCK, EOPNOTSUPP: a file system without flock
            return None
        return True

    def _refusal(self, holder: Optional[dict]) -> WorkDirLocked:
        other = _describe(holder) if holder else 'another process'
        kill = f"kill {holder['pid']}" if holder and 'pid' in holder else 'stop it'
        return WorkDirLocked(
            f'work dir {self.work_dir} is in use by another training, {other}: a second one '
            'would overwrite and delete its checkpoints. Give this run another --work-dir, or '
            f'wait for that one to end (or {kill}); the lock is {self.path}')
