"""Reading checkpoints safely and loading them into a model without silent mismatches."""
import argparse
import inspect
import logging
import os
import pickle
import re
import zipfile
from typing import Callable, Dict, Optional

import numpy as np
import torch
import torch.nn as nn
from mmengine.logging import HistoryBuffer, print_log

# Plain data containers that weights-only loading may rebuild: timm's training script stores
# its argparse.Namespace beside the official weights; numpy values appear in checkpoints
# written by other tools. Nothing here can run code when it is rebuilt.
SAFE_GLOBALS = [argparse.Namespace, np.ndarray, np.dtype,
                np._core.multiarray._reconstruct, np._core.multiarray.scalar] + \
    [cls for _, cls in inspect.getmembers(np.dtypes, inspect.isclass)]

TRUST_ENV = 'MMCOC_TRUST_CHECKPOINTS'
CONVERT_COMMAND = 'python tools/model_converters/weights_only.py {path} {path}.weights_only.pth'


def _trusted(trust: Optional[bool]) -> bool:
    return bool(trust) or os.environ.get(TRUST_ENV) == '1'


def _looks_like_torch_file(path: str) -> bool:
    # torch.save writes a zip archive (torch >= 1.6; its first local header starts the file,
    # also when the file is cut short) or, in the legacy format, a pickle starting with the
    # protocol opcode 0x80
    with open(path, 'rb') as f:
        head = f.read(4)
    return head == b'PK\x03\x04' or head[:1] == b'\x80'


def load_checkpoint_file(path: str, map_location='cpu', trust: Optional[bool] = None) -> Dict:
    """Read a checkpoint weights-only: tensors, numbers, strings, containers and the plain
    data types of ``SAFE_GLOBALS``; nothing in the file can run code.

    A file that needs more (a pickled object of any other class) is read in full only when the
    user trusts it for this call (``trust=True``, the tools' ``--trust-checkpoint``) or for the
    whole process (``MMCOC_TRUST_CHECKPOINTS=1``). Checkpoints written by mmcoc runs never need
    it (``mmcoc.PlainCheckpointHook``). Remote paths go to mmengine's loaders.
    """
    if '://' in path:
        from mmengine.runner import CheckpointLoader
        return CheckpointLoader.load_checkpoint(path, map_location=map_location)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f'checkpoint {path!r} does not exist. Put the file there or change the path (mmcoc '
            'configs set their ImageNet weights in configs/_base_/pretrained.py); official '
            'Context-Cluster, FEC and SecViT releases load as they are, with no conversion.')
    if not _looks_like_torch_file(path):
        raise RuntimeError(f'{path!r} is not a PyTorch checkpoint (neither a torch.save zip '
                           'archive nor a pickle). Check the path, or download the file again.')
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if _trusted(trust):
            return torch.load(path, map_location=map_location, weights_only=False)
        found = re.search(r'GLOBAL (\S+)', str(err))
        what = (f'a pickled {found.group(1)}' if found else
                f'pickled Python objects ({str(err).splitlines()[0]})')
        raise RuntimeError(
            f'checkpoint {path!r} holds {what}, which weights-only loading refuses: unpickling '
            'it could run any code. If you trust this file, pass --trust-checkpoint to the tool '
            f'(or set {TRUST_ENV}=1) once, or rewrite it weights-only for good: '
            + CONVERT_COMMAND.format(path=path)) from err
    except (RuntimeError, EOFError, zipfile.BadZipFile) as err:
        raise RuntimeError(f'checkpoint {path!r} is truncated or not a PyTorch checkpoint '
                           f'({err}). Download or copy it again.') from err


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


def check_shapes(checkpoint: str, state_dict: Dict, model: nn.Module):
    """Raise on the first tensor whose shape differs between ``state_dict`` and ``model``,
    naming it and both shapes (torch and mmengine only warn and load the rest)."""
    own = model.state_dict()
    for key, value in state_dict.items():
        if key in own and hasattr(value, 'shape') and value.shape != own[key].shape:
            raise ValueError(
                f'checkpoint {checkpoint!r} does not fit {type(model).__name__}: {key!r} has '
                f'shape {tuple(value.shape)} in the checkpoint but {tuple(own[key].shape)} in '
                'the model. Check the arch of the config, or that this checkpoint belongs to it.')


def load_weights(model: nn.Module,
                 checkpoint: str,
                 filter_fn: Callable[[Dict, nn.Module], Dict],
                 prefix: Optional[str] = None,
                 logger=None) -> Dict[str, list]:
    """Load ``checkpoint`` into ``model`` after ``filter_fn``; never silently.

    A shape mismatch raises naming the key and both shapes; missing and unexpected keys are
    logged with the coverage; a checkpoint sharing no key with the model raises.
    """
    state_dict = load_checkpoint_file(checkpoint)
    if prefix:
        source = state_dict.get('state_dict', state_dict)
        if any(k.startswith(prefix) for k in source):
            state_dict = {k[len(prefix):]: v for k, v in source.items() if k.startswith(prefix)}
        else:
            print_log(f'no key of {checkpoint} starts with prefix {prefix!r}; reading its '
                      'layout automatically', logger=logger, level=logging.WARNING)
    state_dict = filter_fn(state_dict, model)
    own = model.state_dict()
    matched = [k for k in state_dict if k in own]
    if not matched:
        raise ValueError(
            f'no key of checkpoint {checkpoint!r} matches {type(model).__name__} (first keys: '
            f'{list(state_dict)[:5]}). Is it a checkpoint of this architecture?')
    check_shapes(checkpoint, state_dict, model)
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    model.load_state_dict({k: state_dict[k] for k in matched}, strict=False)
    print_log(f'loaded {len(matched)}/{len(own)} tensors of {type(model).__name__} from '
              f'{checkpoint}', logger=logger)
    if missing:
        print_log(f'missing in the checkpoint (left as initialised): {missing}', logger=logger,
                  level=logging.WARNING)
    if unexpected:
        print_log(f'in the checkpoint but not in the model (ignored): {unexpected}',
                  logger=logger, level=logging.WARNING)
    return dict(missing_keys=missing, unexpected_keys=unexpected)
