"""Imported by tests/tools/tiny_cls_exit.py: when a rank's process ends, writes whether its
process group was still alive into $MMCOC_EXIT_PROBE/rank<RANK> (registered at import, so it
runs after every exit handler registered later: atexit runs in reverse order)."""
import atexit
import os


def _probe():
    folder = os.environ.get('MMCOC_EXIT_PROBE')
    if folder and 'RANK' in os.environ:
        import torch.distributed as dist
        alive = dist.is_available() and dist.is_initialized()
        with open(os.path.join(folder, f'rank{os.environ["RANK"]}'), 'w') as f:
            f.write('alive' if alive else 'destroyed')


atexit.register(_probe)
