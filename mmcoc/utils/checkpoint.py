"""Reading checkpoints safely and loading them into a model without silent mismatches."""
import argparse
import copyreg
import inspect
import logging
import os
import pickle
import zipfile
from typing import Callable, Dict, Optional

import numpy as np
import torch
import torch.nn as nn
from mmengine.logging import HistoryBuffer, print_log

# Plain data containers that weights-only loading may rebuild: timm's training script stores
# its argparse.Namespace beside the official weights; mmengine training checkpoints hold
# HistoryBuffers (saved as plain lists, see ``_reduce_history_buffer``) and numpy values.
SAFE_GLOBALS = [argparse.Namespace, HistoryBuffer, np.ndarray, np.dtype,
                np._core.multiarray._reconstruct, np._core.multiarray.scalar] + \
    [cls for _, cls in inspect.getmembers(np.dtypes, inspect.isclass)]


TRUST_ENV = 'MMCOC_TRUST_CHECKPOINTS'
_trusted_dirs = set()


def trust_directory(path: str):
    """Allow full (pickled) checkpoints found under ``path``: a run's own work dir."""
    _trusted_dirs.add(os.path.realpath(path))


def _is_trusted(path: str) -> bool:
    if os.environ.get(TRUST_ENV) == '1':
        return True
    real = os.path.realpath(path)
    return any(real.startswith(d + os.sep) for d in _trusted_dirs)


def load_checkpoint_file(path: str, map_location='cpu') -> Dict:
    """Read a checkpoint, weights-only unless it comes from a trusted place.

    Weights (and the ``argparse.Namespace`` of official releases) load anywhere. A full training
    checkpoint (optimizer, message hub, ...) needs pickle; it is read only from a directory
    passed to ``trust_directory`` (``tools/train.py`` trusts its work dir, so ``--resume``
    works) or with ``MMCOC_TRUST_CHECKPOINTS=1`` for files you trust.
    Remote paths go to mmengine's loaders.
    """
    if '://' in path:
        from mmengine.runner import CheckpointLoader
        return CheckpointLoader.load_checkpoint(path, map_location=map_location)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f'checkpoint {path!r} does not exist. Put the file there or change the path (mmcoc '
            'configs set their ImageNet weights in configs/_base_/pretrained.py); official '
            'Context-Cluster releases (.pth.tar, .pth) load as they are, with no conversion.')
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if _is_trusted(path):
            return torch.load(path, map_location=map_location, weights_only=False)
        raise RuntimeError(
            f'checkpoint {path!r} holds Python objects that weights-only loading refuses '
            f'({str(err).splitlines()[0]}). mmcoc runs pickled code only from a run\'s own work '
            f'dir (tools/train.py --resume) or with {TRUST_ENV}=1 for a file you trust; for '
            'weights alone save just the state_dict (torch.save(ckpt["state_dict"], path)).'
        ) from err
    except (RuntimeError, EOFError, zipfile.BadZipFile) as err:
        raise RuntimeError(f'checkpoint {path!r} is truncated or not a PyTorch checkpoint '
                           f'({err}). Download or copy it again.') from err


def _mmengine_local_loader(filename, map_location):
    return load_checkpoint_file(os.path.expanduser(filename), map_location)


def _reduce_history_buffer(buffer: HistoryBuffer):
    # mmengine pickles a HistoryBuffer with its statistics functions, which unpickle through
    # builtins.getattr (never safe to allow). Its data alone rebuilds it: the functions are
    # registered on the class at import.
    return HistoryBuffer, (buffer._log_history.tolist(), buffer._count_history.tolist(),
                           buffer.max_length)


def register_checkpoint_loader():
    """Make mmengine's checkpoints safe to write and read under torch >= 2.6.

    mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; torch >= 2.6 then refuses
    every training checkpoint, so ``resume`` fails. Local paths (prefix '') are read through
    ``load_checkpoint_file`` instead, and HistoryBuffers are written as plain data so that
    checkpoints saved with mmcoc imported load weights-only anywhere.
    """
    from mmengine.runner import CheckpointLoader
    CheckpointLoader.register_scheme(prefixes='', loader=_mmengine_local_loader, force=True)
    copyreg.pickle(HistoryBuffer, _reduce_history_buffer)


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
