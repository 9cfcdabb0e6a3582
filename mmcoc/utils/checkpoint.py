"""Reading checkpoints safely: one weights-only reader for every source of weights."""
import argparse
import inspect
import io
import os
import os.path as osp
import pickle
import re
import zipfile
from collections import OrderedDict
from typing import Dict, List, Optional, Union
from urllib.parse import urlparse

import numpy as np
import torch
from mmengine.logging import HistoryBuffer, print_log

# Plain data containers that weights-only loading may rebuild: timm's training script stores
# its argparse.Namespace beside the official weights; numpy values appear in checkpoints
# written by other tools. Nothing here can run code when it is rebuilt.
SAFE_GLOBALS = [argparse.Namespace, np.ndarray, np.dtype,
                np._core.multiarray._reconstruct, np._core.multiarray.scalar] + \
    [cls for _, cls in inspect.getmembers(np.dtypes, inspect.isclass)]

TRUST_ENV = 'MMCOC_TRUST_CHECKPOINTS'
CONVERT_COMMAND = 'python tools/model_converters/weights_only.py {path} {path}.weights_only.pth'
# Modules whose functions run commands or code, or reach any other function: a pickle naming
# one of them is a program, not a checkpoint, and no advice to trust it is given.
CODE_MODULES = frozenset({
    'os', 'posix', 'nt', 'subprocess', 'builtins', '__builtin__', 'sys', 'shutil', 'socket',
    'pty', 'runpy', 'importlib', 'code', 'codeop', 'pickle', '_pickle', 'marshal', 'ctypes',
    'multiprocessing', 'webbrowser', 'pdb', 'bdb', 'timeit', 'operator', 'functools', 'types',
    'commands', 'platform', 'signal', 'threading', '_thread', 'asyncio', 'shlex', 'glob',
    'tempfile', 'pathlib', 'io', '_io', 'urllib', 'http', 'ftplib', 'smtplib', 'telnetlib',
    'torch.hub', 'torch.jit', 'torch._dynamo', 'torch.utils.cpp_extension', 'numpy.f2py',
    'numpy.testing', 'numpy.distutils', 'distutils', 'setuptools', 'pip', 'site', 'inspect',
})


def _trusted(trust: Optional[bool]) -> bool:
    return bool(trust) or os.environ.get(TRUST_ENV) == '1'


def _looks_like_torch_file(head: bytes) -> bool:
    # torch.save writes a zip archive (torch >= 1.6; its first local header starts the file,
    # also when the file is cut short) or, in the legacy format, a pickle starting with the
    # protocol opcode 0x80
    return head[:4] == b'PK\x03\x04' or head[:1] == b'\x80'


def _runs_code(name: str) -> bool:
    module = name.rsplit('.', 1)[0] if '.' in name else name
    return any(module == m or module.startswith(m + '.') for m in CODE_MODULES)


def refusal_message(source: str, global_name: Optional[str], detail: str = '') -> str:
    """Why weights-only loading refused ``source`` and what is safe to do about it."""
    if global_name is None:
        return (f'checkpoint {source!r} holds pickled Python objects ({detail}), which '
                'weights-only loading refuses: unpickling it could run any code. '
                + _TRUST_ADVICE.format(path=source))
    if _runs_code(global_name):
        return (f'checkpoint {source!r} holds a pickled {global_name}, which weights-only '
                'loading refuses: a function that runs commands or code when the file is '
                'unpickled, so the file is a program rather than a checkpoint. Do not load it: '
                f'--trust-checkpoint, {TRUST_ENV}=1 and tools/model_converters/weights_only.py '
                f'would all unpickle it in full and run {global_name}. Get the weights from '
                'their publisher again.')
    return (f'checkpoint {source!r} holds a pickled {global_name}, which weights-only loading '
            'refuses: unpickling it runs whatever that class does when it is rebuilt. '
            + _TRUST_ADVICE.format(path=source))


_TRUST_ADVICE = (
    'Only if you trust where the file came from: pass --trust-checkpoint to the mmcoc tool '
    f'you ran (or set {TRUST_ENV}=1) to unpickle it in full, or rewrite it once as plain '
    'weights (this unpickles it in full too): ' + CONVERT_COMMAND)


def _torch_load(source: str, stream: Union[str, io.BytesIO], map_location,
                trust: Optional[bool]) -> Dict:
    """``torch.load`` of ``stream`` weights-only (in full only when trusted)."""
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(stream, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if _trusted(trust):
            if isinstance(stream, io.BytesIO):
                stream.seek(0)
            return torch.load(stream, map_location=map_location, weights_only=False)
        found = re.search(r'GLOBAL (\S+)', str(err))
        raise RuntimeError(refusal_message(
            source, found.group(1) if found else None, str(err).splitlines()[0])) from err
    except (RuntimeError, EOFError, zipfile.BadZipFile) as err:
        raise RuntimeError(f'checkpoint {source!r} is truncated or not a PyTorch checkpoint '
                           f'({err}). Download or copy it again.') from err


def _check_torch_head(source: str, head: bytes):
    if not _looks_like_torch_file(head):
        raise RuntimeError(f'{source!r} is not a PyTorch checkpoint (neither a torch.save zip '
                           'archive nor a pickle). Check the path, or download the file again.')


def _read_local(path: str, map_location, trust: Optional[bool]) -> Dict:
    if osp.isdir(path):
        raise IsADirectoryError(
            f'checkpoint {path!r} is a folder, not a file: give one checkpoint in it (a run '
            "keeps its latest in the work dir's last_checkpoint, e.g. epoch_12.pth)")
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'checkpoint {path!r} does not exist. Put the file there or change the path (mmcoc '
            'configs set their ImageNet weights in configs/_base_/pretrained.py); official '
            'Context-Cluster, FEC and SecViT releases load as they are, with no conversion.')
    with open(path, 'rb') as f:
        _check_torch_head(path, f.read(4))
    return _torch_load(path, path, map_location, trust)


def resolve_url(name: str) -> str:
    """The http(s) address (or local file) an mmengine model-index prefix stands for
    (``torchvision://resnet50``, ``open-mmlab://...``, ``mmcls://...``); other names as they
    are."""
    from mmengine.runner.checkpoint import (
        get_external_models,
        get_mmcls_models,
        get_torchvision_models,
    )
    indexes = {'torchvision://': get_torchvision_models, 'modelzoo://': get_torchvision_models,
               'open-mmlab://': get_external_models, 'openmmlab://': get_external_models,
               'mmcls://': get_mmcls_models}
    for prefix, index in indexes.items():
        if name.startswith(prefix):
            urls = index()
            key = name[len(prefix):]
            if key not in urls:
                raise KeyError(f'{name!r}: mmengine knows no model {key!r} under {prefix}; '
                               'give the URL or a local file instead')
            url = urls[key]
            if url.startswith(('http://', 'https://')):
                return url
            home = os.environ.get('MMENGINE_HOME', osp.join(
                os.environ.get('XDG_CACHE_HOME', osp.expanduser('~/.cache')), 'mmengine'))
            return osp.join(home, url)
    return name


def download_to_cache(url: str) -> str:
    """``url`` downloaded once into torch's hub cache (``<hub dir>/checkpoints``, the cache
    mmengine's and timm's loaders share); its local path. Only the main process downloads
    under ``torch.distributed``; the others wait for it."""
    from mmengine.dist import barrier, get_dist_info
    cached = osp.join(torch.hub.get_dir(), 'checkpoints', osp.basename(urlparse(url).path))
    rank, world_size = get_dist_info()
    if rank == 0 and not osp.isfile(cached):
        os.makedirs(osp.dirname(cached), exist_ok=True)
        print_log(f'downloading {url} to {cached}', logger='current')
        torch.hub.download_url_to_file(url, cached, progress=False)
    if world_size > 1:
        barrier()
    return cached


def _read_remote(name: str, map_location, trust: Optional[bool]) -> Dict:
    url = resolve_url(name)
    if url.startswith(('http://', 'https://')):
        checkpoint = _read_local(download_to_cache(url), map_location, trust)
    elif '://' not in url:  # an index entry naming a file in mmengine's home
        checkpoint = _read_local(url, map_location, trust)
    else:
        from mmengine.fileio import get
        try:
            data = get(url)
        except Exception as err:  # no backend for the scheme, or it failed
            raise RuntimeError(
                f'checkpoint {name!r} cannot be read here ({type(err).__name__}: {err}). '
                'Download the file and give its local path.') from err
        _check_torch_head(name, data[:4])
        checkpoint = _torch_load(name, io.BytesIO(data), map_location, trust)
    if name.startswith('mmcls://') and isinstance(checkpoint, dict):
        # mmcls's classifiers as backbones: their backbone's weights, without the prefix
        weights = checkpoint.get('state_dict', checkpoint)
        checkpoint = dict(state_dict={k[len('backbone.'):]: v for k, v in weights.items()
                                      if k.startswith('backbone.')})
    return checkpoint


# The containers a checkpoint keeps its weights in: mmengine and mmcoc runs ('state_dict'),
# the official releases and timm ('model', 'state_dict_ema', 'model_ema'), or the top level.
WEIGHT_KEYS = ('state_dict', 'model', 'state_dict_ema', 'model_ema', 'ema_state_dict')


def weight_dicts(checkpoint) -> List[Dict]:
    """The dicts of weights in a loaded checkpoint (the top level when it holds tensors)."""
    if not isinstance(checkpoint, dict):
        return []
    found = [checkpoint[k] for k in WEIGHT_KEYS if isinstance(checkpoint.get(k), dict)]
    return found or [checkpoint]


def _non_finite(tree, path: str = ''):
    """The path of the first floating tensor in a nested dict/list that holds NaN or Inf."""
    if isinstance(tree, torch.Tensor):
        if tree.is_floating_point() and not bool(torch.isfinite(tree).all()):
            return path or 'the top level'
        return None
    items = tree.items() if isinstance(tree, dict) else \
        enumerate(tree) if isinstance(tree, (list, tuple)) else ()
    for key, value in items:
        found = _non_finite(value, f'{path}[{key!r}]')
        if found:
            return found
    return None


def check_finite(source: str, checkpoint) -> None:
    """Raise naming the first floating tensor of the weights, or of the optimizer state, that
    holds NaN or Inf."""
    for weights in weight_dicts(checkpoint):
        for key, value in weights.items():
            if (isinstance(value, torch.Tensor) and value.is_floating_point()
                    and not bool(torch.isfinite(value).all())):
                raise ValueError(
                    f'checkpoint {source!r} holds NaN or Inf values in {key!r} (the first such '
                    'tensor): the training that wrote it diverged. Use an earlier checkpoint '
                    'of that run, or train again with a lower learning rate or gradient '
                    'clipping.')
    optimizer = checkpoint.get('optimizer') if isinstance(checkpoint, dict) else None
    where = _non_finite(optimizer) if optimizer is not None else None
    if where:
        raise ValueError(
            f'checkpoint {source!r} holds NaN or Inf values in its optimizer state '
            f"(optimizer{where}): resuming would train on them. Resume from an earlier "
            'checkpoint of that run, or start from these weights with a fresh optimizer: '
            f'--cfg-options load_from={source} resume=False')


def load_checkpoint_file(path: str, map_location='cpu', trust: Optional[bool] = None) -> Dict:
    """Read a checkpoint weights-only, whatever names it: a local file, an http(s) URL (read
    from torch's download cache, downloaded there first where it is missing), an mmengine
    model-index prefix (``torchvision://``, ``open-mmlab://``, ``mmcls://``) or any path an
    mmengine file backend reads (``s3://``...). Tensors, numbers, strings, containers and the
    plain data types of ``SAFE_GLOBALS`` are rebuilt; nothing in the file can run code.

    A file that needs more (a pickled object of any other class) is read in full only when the
    user trusts it for this call (``trust=True``, the tools' ``--trust-checkpoint``) or for the
    whole process (``MMCOC_TRUST_CHECKPOINTS=1``); one naming a function that runs commands is
    refused without that advice. Checkpoints written by mmcoc runs never need it
    (``mmcoc.PlainCheckpointHook``). NaN or Inf in the weights or the optimizer state is
    refused here, once, for every reader (the runner, the backbones' init_cfg, the tools, the
    converters, the apis, the demo, timm's pretrained path).
    """
    path = os.fspath(path)
    reader = _read_remote if '://' in path else _read_local
    checkpoint = reader(path, map_location, trust)
    check_finite(path, checkpoint)
    return checkpoint


_BUFFER = '__mmcoc_history_buffer__'
_ARRAY = '__mmcoc_ndarray__'


def to_plain(obj):
    """``obj`` with every ``HistoryBuffer`` and numpy value replaced by plain data that
    weights-only loading reads (``from_plain`` rebuilds them)."""
    if isinstance(obj, HistoryBuffer):
        return {_BUFFER: [obj._log_history.tolist(), obj._count_history.tolist(),
                          obj.max_length]}
    if isinstance(obj, np.ndarray):
        return {_ARRAY: [obj.tolist(), str(obj.dtype)]}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return type(obj)((k, to_plain(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)) and not hasattr(obj, '_fields'):
        return type(obj)(to_plain(v) for v in obj)
    return obj


def from_plain(obj):
    """The inverse of ``to_plain``."""
    if isinstance(obj, dict):
        if set(obj) == {_BUFFER}:
            return HistoryBuffer(*obj[_BUFFER])
        if set(obj) == {_ARRAY}:
            return np.array(obj[_ARRAY][0], dtype=obj[_ARRAY][1])
        return type(obj)((k, from_plain(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)) and not hasattr(obj, '_fields'):
        return type(obj)(from_plain(v) for v in obj)
    return obj


def unwrap_state_dict(checkpoint: Dict, keys=('state_dict', 'model')) -> Dict:
    """The tensors of a checkpoint: under the first of ``keys`` that holds a dict, else the top
    level; without DDP's ``module.`` prefix. The modules' layout versions that torch records
    in a state dict (``_metadata``) come along."""
    if not isinstance(checkpoint, dict):
        return {}
    for key in keys:
        if isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
            break
    weights = OrderedDict((_without_ddp_prefix(k), v) for k, v in checkpoint.items())
    metadata = getattr(checkpoint, '_metadata', None)
    if isinstance(metadata, dict):
        weights._metadata = OrderedDict(
            ('' if k == 'module' else _without_ddp_prefix(k), v) for k, v in metadata.items())
    return weights


def _without_ddp_prefix(key: str) -> str:
    return key[len('module.'):] if key.startswith('module.') else key
