"""Imported by tests/tools/tiny_cls_exit.py: when a rank's process ends, writes into
$MMCOC_EXIT_PROBE/rank<RANK> whether its process group was still alive and whether a
distributed model wrapper (whose reducer keeps gloo's threads alive) was still in memory.
Registered at import, so it runs after every exit handler registered later (atexit runs in
reverse order)."""
import atexit
import gc
import os


def _probe():
    folder = os.environ.get('MMCOC_EXIT_PROBE')
    if folder and 'RANK' in os.environ:
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel
        group = 'alive' if dist.is_available() and dist.is_initialized() else 'destroyed'
        wrapped = any(isinstance(o, DistributedDataParallel) for o in gc.get_objects())
        with open(os.path.join(folder, f'rank{os.environ["RANK"]}'), 'w') as f:
            f.write(f'{group}, {"wrapper alive" if wrapped else "wrapper freed"}')


atexit.register(_probe)
