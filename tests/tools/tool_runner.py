"""Run the tools as a user does: a process of its own from the repo root, one thread (forked
from a pre-imported server where it can be: ``tool_server``)."""
import os
import socket
from pathlib import Path

from .tool_server import ROOT, launch

PYTHONPATH = f'{ROOT}:{Path(__file__).parent}'  # mmcoc and the test hooks/configs here


def free_port() -> int:
    """A TCP port nobody listens on now (for torchrun's rendezvous: never a fixed one)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def run(args, check=True, **kwargs):
    """``args`` in a subprocess; with ``check``, its exit code must be 0."""
    env = dict(os.environ, PYTHONPATH=PYTHONPATH, OMP_NUM_THREADS='1', PORT=str(free_port()))
    result = launch(args, env, ROOT, **kwargs)
    assert not check or result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def data_root_options(root, extra=()):
    """``--cfg-options`` pointing every dataloader of a demo config at ``root``."""
    return ['--cfg-options'] + [f'{split}_dataloader.dataset.data_root={root}'
                                for split in ('train', 'val', 'test')] + list(extra)


def coco_options(root, extra=()):
    """``data_root_options`` of a COCO-layout set (``mmcoc.datasets.write_coco``), whose
    evaluators read the set's own val annotations."""
    from mmcoc.datasets import coco_files
    ann_file = Path(root) / coco_files('val')[1]
    return data_root_options(root, [f'{split}_evaluator.ann_file={ann_file}'
                                    for split in ('val', 'test')] + list(extra))
