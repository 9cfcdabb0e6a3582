"""Local files that are written whole or not at all.

mmengine writes checkpoints (and json/pickle dumps) through its file backend: ``LocalBackend.put``
opens the target with ``'wb'`` and writes into it, so a process killed during the write leaves a
truncated file under the final name, which the next ``--resume`` then trips over. Here the bytes
go to a hidden temporary file in the same folder, are flushed to disk, and the file is renamed
over the target: ``os.replace`` within one file system is atomic, so a reader (or a resumed run)
sees the old file or the new one, never a part.

The backend is registered under its own name, ``ATOMIC_BACKEND``; mmengine's ``local`` backend
is left as it is. A writer asks for it with ``backend_args=dict(backend=ATOMIC_BACKEND)``, as
``mmcoc.engine.make_recoverable`` does for mmengine's ``CheckpointHook``. Through it a file is
also never deleted before its successor exists: ``CheckpointHook`` removes the checkpoint that
``max_keep_ckpts`` drops *before* it writes the new one (with ``max_keep_ckpts=1`` a kill in
between would leave none), so a removal waits until the next file written into the same folder
is complete.
"""
import glob
import json
import os
import os.path as osp
import shutil
import uuid
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend

TEMP_SUFFIX = '.tmp'


def _temp_prefix(path: str) -> str:
    return osp.join(osp.dirname(path), f'.{osp.basename(path)}.')


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (also one of another user)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _remove_stale_temps(path: str):
    # Temporary files of writers that were killed: named .NAME.PID.RANDOM.tmp
    for temp in glob.glob(glob.escape(_temp_prefix(path)) + '*' + TEMP_SUFFIX):
        pid = temp[len(_temp_prefix(path)):].split('.', 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            try:
                os.remove(temp)
            except FileNotFoundError:
                pass


def _fsync_dir(folder: str):
    # makes the rename itself survive a power cut (POSIX); not possible everywhere
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Union[str, Path], data: bytes):
    """Write ``data`` to ``path`` so that ``path`` never holds part of it.

    Creates missing parent folders (as mmengine's ``LocalBackend.put``); the file gets the usual
    permissions (umask), not a temporary file's 0600.
    """
    path = osp.abspath(os.fspath(path))
    folder = osp.dirname(path)
    os.makedirs(folder, exist_ok=True)
    _remove_stale_temps(path)
    temp = f'{_temp_prefix(path)}{os.getpid()}.{uuid.uuid4().hex[:8]}{TEMP_SUFFIX}'
    try:
        with open(temp, 'xb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        if osp.exists(temp):
            os.remove(temp)
        raise
    _fsync_dir(folder)


def claim_output_folder(out: Union[str, Path], marker: str, tool: str, settings: dict):
    """Make ``out`` an empty folder that ``tool`` (a data generator) marks as its own.

    A non-empty ``out`` is deleted first only where ``tool`` wrote it: it holds ``marker`` (the
    tool writes it first, so an interrupted set has it too) or, written by a version of the tool
    that wrote no marker, a ``settings.json`` with the keys of ``settings``. Any other folder is
    refused (``SystemExit``, nothing deleted), ``--force`` or not: ``--out`` may name any folder
    by mistake.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SystemExit(f'{out} is a file, not a folder: nothing deleted. Choose an empty or '
                         'new --out folder.')
    if out.exists() and any(out.iterdir()):
        try:
            older = set(json.loads((out / 'settings.json').read_text())) == set(settings)
        except (OSError, ValueError, TypeError):
            older = False
        if out.is_symlink() or not ((out / marker).is_file() or older):
            raise SystemExit(f'{out} is not a folder written by this tool (no {marker} in it): '
                             'nothing deleted. Choose an empty or new --out folder.')
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / marker).write_text(f'written by {tool}; --force may delete this folder\n')


class AtomicLocalBackend(LocalBackend):
    """mmengine's ``LocalBackend`` whose ``put``/``put_text`` replace the target atomically and
    whose ``remove``/``rmtree`` wait for the next complete ``put`` into the same folder."""
    # every instance's (mmengine builds one per caller: the hook's removals and the runner's
    # writes go through different ones): folder -> paths waiting to be deleted
    _waiting: dict = {}

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write(filepath, obj)
        self._delete_waiting(filepath)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        self.put(obj.encode(encoding), filepath)

    def remove(self, filepath: Union[str, Path]) -> None:
        self._wait(filepath)

    def rmtree(self, dir_path: Union[str, Path]) -> None:
        self._wait(dir_path)  # deepspeed's checkpoints are folders

    def _wait(self, path):
        path = osp.abspath(os.fspath(path))
        if not osp.exists(path):
            raise FileNotFoundError(path)  # as LocalBackend.remove
        self._waiting.setdefault(osp.dirname(path), []).append(path)

    def _delete_waiting(self, written):
        written = osp.abspath(os.fspath(written))
        for path in self._waiting.pop(osp.dirname(written), []):
            if path == written:  # written again under the same name: kept
                continue
            if osp.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            elif osp.exists(path):
                os.remove(path)


ATOMIC_BACKEND = 'mmcoc_atomic_local'
register_backend(ATOMIC_BACKEND, AtomicLocalBackend)
