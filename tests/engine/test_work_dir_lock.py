"""Two trainings in one work dir: the second stops before it writes anything, naming the first;
evaluating there still works; the lock of a run that died is taken over with a warning."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mmcoc.utils.lock import LOCK_NAME, WorkDirLock, WorkDirLocked
from tests.tools.tool_runner import run

pytestmark = pytest.mark.slow  # subprocesses, exports, compiles or docs: make test-fast skips

ROOT = Path(__file__).parents[2]
CONFIG = str(ROOT / 'tests' / 'tools' / 'tiny_cls.py')  # 1 epoch of 2 iterations
ENV = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=f'{ROOT}:{ROOT / "tests" / "tools"}')
HOLD = ('import sys; from mmcoc.utils.lock import WorkDirLock; WorkDirLock(sys.argv[1]).acquire();'
        ' print("held", flush=True); sys.stdin.read()')


def tool(script, *args, data_root):
    options = [f'{split}_dataloader.dataset.data_root={data_root}'
               for split in ('train', 'val', 'test')]
    return run([sys.executable, script, CONFIG, *args, '--cfg-options', *options], check=False,
               timeout=300)


def hold(work_dir):
    """Another process holding the work dir's lock (what a running training does)."""
    holder = subprocess.Popen([sys.executable, '-c', HOLD, str(work_dir)], env=ENV,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == 'held'
    return holder


@pytest.fixture(scope='module')
def trained(tiny_imagenet, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('first')
    first = tool('tools/train.py', '--work-dir', str(work_dir), data_root=tiny_imagenet)
    assert first.returncode == 0, first.stderr[-3000:]
    assert not (work_dir / LOCK_NAME).exists()  # released at the end
    return work_dir


def test_second_training_stops_naming_the_first_and_writes_nothing(trained, tiny_imagenet):
    checkpoint = trained / 'epoch_1.pth'
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in
              (checkpoint, trained / 'last_checkpoint')}
    holder = hold(trained)
    try:
        for resume in ([], ['--resume']):
            second = tool('tools/train.py', '--work-dir', str(trained), *resume,
                          data_root=tiny_imagenet)
            assert second.returncode != 0
            message = second.stderr.strip().splitlines()[-1]
            assert f'work dir {trained} is in use by another training, PID {holder.pid}' \
                in message and '--work-dir' in message and f'kill {holder.pid}' in message
            assert 'Traceback' not in second.stderr
            assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in
                    (checkpoint, trained / 'last_checkpoint')} == before
            assert not (trained / 'epoch_2.pth').exists()
        # evaluating in the work dir of a running training is no training: not stopped
        evaluated = tool('tools/test.py', str(checkpoint), '--work-dir', str(trained),
                         data_root=tiny_imagenet)
        assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    finally:
        holder.kill()
        holder.wait()


def test_lock_of_a_killed_run_is_taken_over(trained, tiny_imagenet):
    holder = hold(trained)
    holder.send_signal(signal.SIGKILL)  # dies holding it: the lock file stays, naming it
    holder.wait()
    assert json.loads((trained / LOCK_NAME).read_text())['pid'] == holder.pid
    resumed = tool('tools/train.py', '--work-dir', str(trained), '--resume',
                   data_root=tiny_imagenet)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    log = resumed.stdout + resumed.stderr
    assert f'taking over the lock of PID {holder.pid}' in log and 'crashed or was killed' in log
    assert not (trained / LOCK_NAME).exists()


def test_lock_names_its_holder_and_is_released(tmp_path):
    lock = WorkDirLock(str(tmp_path))
    assert lock.acquire() is None
    holder = json.loads((tmp_path / LOCK_NAME).read_text())
    assert holder['pid'] == os.getpid() and holder['host'] and 'started' in holder
    with pytest.raises(WorkDirLocked, match=f'PID {os.getpid()} on '):
        WorkDirLock(str(tmp_path)).acquire()  # another holder, even in this process
    lock.release()
    assert not (tmp_path / LOCK_NAME).exists()
    other = WorkDirLock(str(tmp_path))
    assert other.acquire() is None
    other.release()


def test_dead_pid_without_flock_is_stale_a_live_one_is_not(tmp_path, monkeypatch):
    import mmcoc.utils.lock as lock_module
    monkeypatch.setattr(lock_module, 'fcntl', None)  # a file system without flock
    dead = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead.wait()
    host = __import__('socket').gethostname()
    (tmp_path / LOCK_NAME).write_text(json.dumps(dict(pid=dead.pid, host=host)))
    lock = WorkDirLock(str(tmp_path))
    assert f'taking over the lock of PID {dead.pid} on {host}' in lock.acquire()
    lock.release()
    (tmp_path / LOCK_NAME).write_text(json.dumps(dict(pid=os.getppid(), host=host)))
    with pytest.raises(WorkDirLocked, match=f'PID {os.getppid()} on {host}'):
        WorkDirLock(str(tmp_path)).acquire()
