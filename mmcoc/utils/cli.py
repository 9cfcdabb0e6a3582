"""Argument types and checks the tools share, so that every argument is checked before any work
starts and a bad one stops the tool with one line that names the fix.

Used as argparse ``type=`` functions (argparse prints ``usage`` and ``TOOL: error: argument
--X: MESSAGE`` and exits with code 2) or through ``parser.error`` for checks that combine
arguments. Nothing here imports torch or mmcoc's models: a tool checks its arguments in a
fraction of a second, before its heavy imports where it can.
"""
import argparse
import os
import os.path as osp
import re
from typing import Callable, Optional

# what mmengine's ``load_checkpoint`` reads from elsewhere than the file system (http(s),
# open-mmlab://, torchvision://, s3://, any file backend's prefix): not checked here
_REMOTE = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*://')
_DEVICE = re.compile(r'^(cpu|cuda(:\d+)?)$')
CONFIG_SUFFIXES = ('.py', '.json', '.yaml', '.yml')
GIB = 2**30
# Memory a request needs, per pixel of the model's input: the peak RSS of a CoC-tiny forward
# (tools/visualize_clusters.py, 256 to 2048 px) grows by ~160 bytes per input pixel; a train
# step (forward, backward, gradients) takes about three times a forward; a drawn map keeps a
# few copies and an int64 label map per displayed pixel. Upper estimates, not exact figures.
INFER_BYTES_PER_PIXEL = 200
TRAIN_BYTES_PER_PIXEL = 600
DRAW_BYTES_PER_PIXEL = 40


def is_remote(path: str) -> bool:
    return bool(_REMOTE.match(path))


def _number(kind: Callable, value: str, low=None, high=None, unit: str = ''):
    try:
        number = kind(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'{value!r} is not {"an integer" if kind is int else "a number"}') from None
    if number != number:  # nan
        raise argparse.ArgumentTypeError(f'{value!r} is not a number')
    unit = f' {unit}' if unit else ''
    if low is not None and number < low:
        bound = f'from {low} to {high}' if high is not None else f'at least {low}'
        raise argparse.ArgumentTypeError(f'{value}{unit}: give a value {bound}{unit}')
    if high is not None and number > high:
        raise argparse.ArgumentTypeError(
            f'{value}{unit}: give a value from {low} to {high}{unit}' if low is not None else
            f'{value}{unit}: give at most {high}{unit}')
    return number


def int_range(low: Optional[int] = None, high: Optional[int] = None, unit: str = ''):
    """An argparse type: an integer in ``[low, high]`` (either bound may be None)."""
    def parse(value):
        return _number(int, value, low, high, unit)
    parse.__name__ = 'integer'
    return parse


def float_range(low: Optional[float] = None, high: Optional[float] = None, unit: str = ''):
    """An argparse type: a float in ``[low, high]``."""
    def parse(value):
        return _number(float, value, low, high, unit)
    parse.__name__ = 'number'
    return parse


positive_int = int_range(1)
nonnegative_int = int_range(0)


def positive_float(value: str) -> float:
    number = _number(float, value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f'{value}: give a number above 0')
    return number


def existing_file(value: str, what: str = 'file') -> str:
    if not osp.exists(value):
        raise argparse.ArgumentTypeError(f'{what} {value!r} does not exist: check the path')
    if osp.isdir(value):
        raise argparse.ArgumentTypeError(f'{value!r} is a directory: give a {what} in it')
    return value


def input_file(what: str):
    """An argparse type: an existing file (not a directory), ``what`` naming it in messages."""
    def parse(value):
        return existing_file(value, what)
    parse.__name__ = what
    return parse


def config_file(value: str) -> str:
    """An argparse type: an existing OpenMMLab config file, or one of mmcoc's own by package
    name (``mmcoc::context_cluster/coc_small_in1k.py``)."""
    if value.startswith('mmcoc::'):
        from mmcoc.utils.config import package_config
        try:
            package_config(value)
        except FileNotFoundError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
        return value
    existing_file(value, 'config file')
    if not value.endswith(CONFIG_SUFFIXES):
        raise argparse.ArgumentTypeError(
            f'{value!r} is not a config: give a {"/".join(CONFIG_SUFFIXES)} config file, '
            'e.g. one under configs/')
    return value


def checkpoint_file(value: str) -> str:
    """An argparse type: a checkpoint file or a URL (http(s)://, open-mmlab://, ...)."""
    if is_remote(value):
        return value
    if osp.isdir(value):
        inside = sorted(f for f in os.listdir(value) if f.endswith(('.pth', '.pt', '.tar')))
        latest = osp.join(value, 'last_checkpoint')
        if osp.isfile(latest):
            with open(latest) as f:
                hint = f'e.g. {f.read().strip()} (its last_checkpoint)'
        elif inside:
            hint = f'e.g. {osp.join(value, inside[-1])}'
        else:
            hint = 'a .pth file (it holds none)'
        raise argparse.ArgumentTypeError(
            f'{value!r} is a directory, not a checkpoint: give a file in it, {hint}')
    if not osp.exists(value):
        raise argparse.ArgumentTypeError(
            f'checkpoint {value!r} does not exist: give the path of a .pth file or a URL')
    return value


def checkpoint_or(*words: str):
    """An argparse type: ``checkpoint_file`` or one of ``words`` (``random``, ``auto``)."""
    def parse(value):
        return value if value in words else checkpoint_file(value)
    parse.__name__ = 'checkpoint'
    return parse


checkpoint_or_random = checkpoint_or('random')


def output_file(value: str) -> str:
    """An argparse type: a file to write; not a directory, its folder not a file."""
    if osp.isdir(value):
        raise argparse.ArgumentTypeError(f'{value!r} is a directory: give a file name in it')
    parent = osp.dirname(osp.abspath(value))
    while not osp.exists(parent):
        parent = osp.dirname(parent)
    if not osp.isdir(parent):
        raise argparse.ArgumentTypeError(f'{value!r}: {parent!r} is a file, not a folder')
    return value


def output_dir(value: str) -> str:
    """An argparse type: a folder to write into (made if missing), not a file."""
    if osp.exists(value) and not osp.isdir(value):
        raise argparse.ArgumentTypeError(f'{value!r} is a file: give a folder')
    return value


def device(value: str) -> str:
    """An argparse type: ``cpu``, ``cuda`` or ``cuda:N`` of a GPU this machine has."""
    if not _DEVICE.match(value):
        raise argparse.ArgumentTypeError(f'unknown device {value!r}: use cpu, cuda or cuda:N')
    if value.startswith('cuda'):
        import torch
        if not torch.cuda.is_available():
            raise argparse.ArgumentTypeError(
                f'{value}: CUDA is not available here; use --device cpu')
        index = int(value.partition(':')[2] or 0)
        if index >= torch.cuda.device_count():
            raise argparse.ArgumentTypeError(
                f'{value}: this machine has {torch.cuda.device_count()} GPU(s), '
                f'cuda:0-cuda:{torch.cuda.device_count() - 1}')
    return value


def available_memory() -> int:
    """Bytes this process can still allocate: MemAvailable of /proc/meminfo (Linux), else the
    physical memory."""
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')
    except (ValueError, OSError, AttributeError):
        return 2**63


def fits(nbytes: float) -> bool:
    return nbytes <= available_memory()


def describe_bytes(nbytes: float) -> str:
    return f'{nbytes / GIB:.1f} GiB'


def check_config_arguments(parser: argparse.ArgumentParser, config: str,
                           cfg_options: Optional[dict] = None, launcher: str = 'none'):
    """The config of a train/test tool with its ``--cfg-options`` merged and checked
    (``mmcoc.utils.config.check_config``), its ``load_from`` (a file or URL) and the ``--launcher``
    (``mmcoc.utils.config.launcher_problem``): ``parser.error`` with the first problem."""
    from mmcoc.utils.config import ConfigError, launcher_problem, load_config
    problem = launcher_problem(launcher)
    if problem:
        parser.error(problem)
    try:
        cfg = load_config(config, launcher, cfg_options)
    except ConfigError as err:
        parser.error(str(err))
    except (SyntaxError, ImportError, KeyError, AttributeError, TypeError) as err:
        # a config that does not evaluate: mmengine's message, on one line
        parser.error(f'{config} cannot be read: {type(err).__name__}: '
                     f'{" ".join(str(err).split())[:300]}')
    load_from = cfg.get('load_from')
    if isinstance(load_from, str):
        try:
            checkpoint_file(load_from)
        except argparse.ArgumentTypeError as err:
            parser.error(f'load_from: {err}')
    return cfg


def check_side(parser: argparse.ArgumentParser, option: str, side: int, bytes_per_pixel: float,
               what: str, default: Optional[int] = None):
    """``parser.error`` unless a ``side`` x ``side`` picture at ``bytes_per_pixel`` fits in the
    memory available now; the message gives the largest side that fits."""
    need = side * side * bytes_per_pixel
    free = available_memory()
    if need > free:
        # the largest side that fits, to name in the fix
        largest = int((free / bytes_per_pixel) ** 0.5)
        example = f' (default {default})' if default else ''
        parser.error(f'{option} {side} needs about {describe_bytes(need)} for {what} (about '
                     f'{bytes_per_pixel:g} bytes per pixel), {describe_bytes(free)} are '
                     f'available: give {option} {largest} or less{example}')


def config_task(config: str) -> str:
    """``'points'`` for a point-cloud (PointMLP) config, else ``'image'``: read from the
    config's ``model.backbone.type`` without building anything."""
    from mmengine.config import Config
    model = Config.fromfile(config).get('model') or {}
    backbone = model.get('backbone') or {} if isinstance(model, dict) else {}
    kind = str(backbone.get('type', '')) if isinstance(backbone, dict) else ''
    return 'points' if 'PointMLP' in kind else 'image'


def check_fits(parser: argparse.ArgumentParser, request: str, need: float, what: str,
               fix: str):
    """``parser.error`` unless ``need`` bytes fit in the memory available now."""
    free = available_memory()
    if need > free:
        parser.error(f'{request} needs about {describe_bytes(need)} for {what}, '
                     f'{describe_bytes(free)} are available: {fix}')
