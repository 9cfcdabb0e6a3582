"""Tool runs forked from one process that has already imported the host packages.

Each run of ``python tools/X.py`` spends 8-12 s of CPU importing torch, mmengine, mmdet, mmseg,
mmpretrain and their own imports (scipy, pandas, matplotlib, ...) before it does anything, and the
suite runs a hundred of them. ``launch`` forks each run from a server that imported those once
(one per test process and set of import-time variables); the child then runs the script as
``python`` would: its own folder first on ``sys.path``, ``sys.argv``, the environment and
working directory asked for, output to files, the exit code of ``SystemExit`` or 1 after an
uncaught exception (traceback on stderr), ``atexit`` handlers run, fresh random seeds. What the
server does not serve (another interpreter, ``-c``/``-m``, a script outside ``tools/``, other
import-time variables, stdin) runs in a plain subprocess, and a server that dies is replaced by
plain subprocesses too. The wheel, demo, distributed and import-side-effect tests start their
own processes.
"""
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).parents[2]
TOOLS = ROOT / 'tools'
# read when a package is imported (or when the process starts): a run whose values differ gets
# a server of its own
IMPORT_TIME = ('PYTHONPATH', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'TRITON_INTERPRET',
               'PYTHONHASHSEED', 'PYTHONWARNINGS', 'LD_PRELOAD', 'MALLOC_MMAP_THRESHOLD_',
               'CUDA_VISIBLE_DEVICES', 'MPLBACKEND')
PRELOAD = ('torch', 'torchvision', 'mmengine.runner', 'mmcv.ops', 'mmdet.models', 'mmdet.apis',
           'mmseg.models', 'mmseg.apis', 'mmpretrain.models', 'timm', 'mmcoc',
           'mmcoc.models.backbones', 'cv2', 'matplotlib.pyplot')

_servers: Dict[tuple, Optional[object]] = {}


def servable(args: List[str], cwd, kwargs: dict) -> bool:
    if len(args) < 2 or args[0] != sys.executable or set(kwargs) - {'timeout'}:
        return False
    script = (Path(cwd) / args[1]).resolve()  # as the child finds it, from its cwd
    return script.suffix == '.py' and TOOLS in script.parents and script.is_file()


def launch(args: List[str], env: Dict[str, str], cwd=ROOT, **kwargs) -> subprocess.CompletedProcess:
    """``subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, **kwargs)``,
    forked from a pre-imported server where the run allows (see the module's docstring)."""
    args = [str(a) for a in args]
    if servable(args, cwd, kwargs):
        key = tuple(env.get(k) for k in IMPORT_TIME)
        if key not in _servers:
            _servers[key] = _start(env)
        server = _servers[key]
        if server is not None:
            try:
                return _run_forked(server, args, env, cwd, kwargs.get('timeout'))
            except (EOFError, OSError):
                _servers[key] = None  # died: plain subprocesses from here on
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, **kwargs)


def _start(env):
    import socket
    from multiprocessing.connection import Connection
    ours, theirs = socket.socketpair()
    proc = subprocess.Popen([sys.executable, __file__, str(theirs.fileno())], env=env, cwd=ROOT,
                            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    theirs.close()
    conn = Connection(ours.detach())
    try:
        if not conn.poll(600) or conn.recv() != 'ready':
            raise EOFError
    except (EOFError, OSError):
        proc.kill()
        return None
    import atexit
    atexit.register(proc.kill)
    return conn


def _run_forked(conn, args, env, cwd, timeout):
    with tempfile.TemporaryDirectory() as tmp:
        out, err = os.path.join(tmp, 'out'), os.path.join(tmp, 'err')
        conn.send((args, dict(env), str(cwd), out, err))
        kind, pid = conn.recv()
        assert kind == 'pid', kind
        if not conn.poll(timeout):
            os.kill(pid, 9)
            conn.recv()
            raise subprocess.TimeoutExpired(args, timeout, Path(out).read_text(errors='replace'),
                                            Path(err).read_text(errors='replace'))
        kind, code = conn.recv()
        assert kind == 'exit', kind
        return subprocess.CompletedProcess(args, code, Path(out).read_text(errors='replace'),
                                           Path(err).read_text(errors='replace'))


def _child(conn, args, env, cwd, out, err):
    """In the forked child: become ``python args[1] args[2:]``; never returns."""
    import atexit
    import random
    import runpy
    import traceback

    import numpy as np
    import torch
    code = 1
    try:
        conn.close()
        for fd, path, flags in ((0, os.devnull, os.O_RDONLY),
                                (1, out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                                (2, err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
            new = os.open(path, flags, 0o644)
            os.dup2(new, fd)
            os.close(new)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        script = os.path.abspath(args[1])
        sys.argv = [args[1], *args[2:]]
        sys.path[0] = os.path.dirname(script)
        random.seed()
        np.random.seed()
        torch.seed()
        if env.get('OMP_NUM_THREADS', '').isdigit():
            torch.set_num_threads(int(env['OMP_NUM_THREADS']))
        try:
            runpy.run_path(script, run_name='__main__')
            code = 0
        except SystemExit as exit:
            if exit.code is None:
                code = 0
            elif isinstance(exit.code, int):
                code = exit.code
            else:
                print(exit.code, file=sys.stderr)
                code = 1
        except BaseException:
            sys.excepthook(*sys.exc_info())
            code = 1
        try:
            atexit._run_exitfuncs()
        except BaseException:
            traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def _serve(fd: int):
    import importlib
    from multiprocessing.connection import Connection
    conn = Connection(fd)
    for name in PRELOAD:
        importlib.import_module(name)
    conn.send('ready')
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(conn, *request)
        conn.send(('pid', pid))
        _, status = os.waitpid(pid, 0)
        conn.send(('exit', os.waitstatus_to_exitcode(status)))


if __name__ == '__main__':
    sys.path[0] = str(ROOT)
    _serve(int(sys.argv[1]))
