import os

import pytest
from mmengine.fileio import LocalBackend, dump, get_file_backend

from mmcoc.utils import fileio
from mmcoc.utils.fileio import ATOMIC_BACKEND, AtomicLocalBackend, atomic_write


def test_the_atomic_backend_is_asked_for_by_name_and_local_stays_mmengine_s(tmp_path):
    assert type(get_file_backend(str(tmp_path))) is LocalBackend
    args = dict(backend=ATOMIC_BACKEND)
    assert isinstance(get_file_backend(str(tmp_path), backend_args=args), AtomicLocalBackend)
    dump({'a': 1}, str(tmp_path / 'sub' / 'x.json'), backend_args=args)  # put_text
    assert (tmp_path / 'sub' / 'x.json').read_text() == '{"a": 1}'
    assert oct((tmp_path / 'sub' / 'x.json').stat().st_mode & 0o777) != oct(0o600)


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / 'ckpt.pth'
    atomic_write(target, b'old')

    class Broken:
        def __init__(self, path, mode):
            self.file = open(path, mode)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def write(self, data):
            self.file.write(data[:2])
            raise OSError('disk full')

    monkeypatch.setattr(fileio, 'open', Broken, raising=False)
    with pytest.raises(OSError, match='disk full'):
        AtomicLocalBackend().put(b'new contents', target)
    assert target.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['ckpt.pth']


def test_temporary_files_of_dead_writers_are_removed(tmp_path):
    dead = tmp_path / '.ckpt.pth.999999999.abcd1234.tmp'  # no such pid
    dead.write_bytes(b'half')
    atomic_write(tmp_path / 'ckpt.pth', b'whole')
    assert sorted(os.listdir(tmp_path)) == ['ckpt.pth']
