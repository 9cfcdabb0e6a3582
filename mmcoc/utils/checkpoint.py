"""Reading checkpoints safely and loading them into a model without silent mismatches."""
import argparse
import inspect
import logging
import os
import pickle
import re
import zipfile
from typing import Callable, Dict, List, Optional

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


def _read_checkpoint_file(path: str, map_location, trust: Optional[bool]) -> Dict:
    """``load_checkpoint_file`` before the check of its values."""
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


# The containers a checkpoint keeps its weights in: mmengine and mmcoc runs ('state_dict'),
# the official releases and timm ('model', 'state_dict_ema', 'model_ema'), or the top level.
WEIGHT_KEYS = ('state_dict', 'model', 'state_dict_ema', 'model_ema', 'ema_state_dict')


def weight_dicts(checkpoint) -> List[Dict]:
    """The dicts of weights in a loaded checkpoint (the top level when it holds tensors)."""
    if not isinstance(checkpoint, dict):
        return []
    found = [checkpoint[k] for k in WEIGHT_KEYS if isinstance(checkpoint.get(k), dict)]
    return found or [checkpoint]


def check_finite(source: str, checkpoint) -> None:
    """Raise naming the first floating tensor of the weights that holds NaN or Inf."""
    for weights in weight_dicts(checkpoint):
        for key, value in weights.items():
            if (isinstance(value, torch.Tensor) and value.is_floating_point()
                    and not bool(torch.isfinite(value).all())):
                raise ValueError(
                    f'checkpoint {source!r} holds NaN or Inf values in {key!r} (the first such '
                    'tensor): the training that wrote it diverged. Use an earlier checkpoint '
                    'of that run, or train again with a lower learning rate or gradient '
                    'clipping.')


def load_checkpoint_file(path: str, map_location='cpu', trust: Optional[bool] = None) -> Dict:
    """Read a checkpoint weights-only: tensors, numbers, strings, containers and the plain
    data types of ``SAFE_GLOBALS``; nothing in the file can run code.

    A file that needs more (a pickled object of any other class) is read in full only when the
    user trusts it for this call (``trust=True``, the tools' ``--trust-checkpoint``) or for the
    whole process (``MMCOC_TRUST_CHECKPOINTS=1``). Checkpoints written by mmcoc runs never need
    it (``mmcoc.PlainCheckpointHook``). Remote paths go to mmengine's loaders.
    """
    checkpoint = _read_checkpoint_file(path, map_location, trust)
    # Checked here, once, so that every reader (the runner, the backbones' init_cfg, the tools,
    # the converters, the demo) refuses weights that would only give NaN predictions.
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


def check_shapes(checkpoint: str, state_dict: Dict, model: nn.Module):
    """Raise on the first tensor whose shape differs between ``state_dict`` and ``model``,
    naming it and both shapes (torch and mmengine only warn and load the rest)."""
    own = model.state_dict()
    wrong = [key for key, value in state_dict.items()
             if key in own and hasattr(value, 'shape') and value.shape != own[key].shape]
    if wrong:
        key = wrong[0]
        raise ValueError(
            f'checkpoint {checkpoint!r} does not fit {type(model).__name__}: {key!r} has '
            f'shape {tuple(state_dict[key].shape)} in the checkpoint but '
            f'{tuple(own[key].shape)} in the model ({len(wrong)} tensor(s) differ in shape). '
            'Check the arch of the config, or that this checkpoint belongs to it.')


# Below this share of the model's tensors found in a whole-model checkpoint, the checkpoint is
# taken to belong to another model: mmengine would warn and leave the rest random.
MIN_COVERAGE = 0.5
BACKBONE_ADVICE = (
    "pass it as the backbone's weights instead: --cfg-options "
    "model.backbone.init_cfg.type=Pretrained model.backbone.init_cfg.checkpoint={path} "
    '(mmcoc.apis.load_model does this by itself), or make a whole-model checkpoint of it with '
    'tools/model_converters/official2mmcoc.py')


def unwrap_state_dict(checkpoint: Dict, keys=('state_dict', 'model')) -> Dict:
    """The tensors of a checkpoint: under the first of ``keys`` that holds a dict, else the top
    level; without DDP's ``module.`` prefix."""
    if not isinstance(checkpoint, dict):
        return {}
    for key in keys:
        if isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
            break
    return {k[len('module.'):] if k.startswith('module.') else k: v
            for k, v in checkpoint.items()}


def is_bare_backbone(keys, backbone: nn.Module) -> bool:
    """Whether the weights named ``keys`` are ``backbone``'s own state dict (no ``backbone.``
    key, most of its tensors at the top level), given where a whole model's are expected."""
    if not keys or any(k.startswith('backbone.') for k in keys):
        return False
    own = backbone.state_dict()
    return sum(k in keys for k in own) / max(len(own), 1) > 0.5


def check_fit(source: str, checkpoint: Dict, model: nn.Module,
              min_coverage: float = MIN_COVERAGE) -> None:
    """Raise unless a whole-model ``checkpoint`` fits ``model``: a bare backbone state dict, a
    checkpoint covering less than ``min_coverage`` of the model's tensors (another
    architecture), or any shape mismatch stops, with the counts and the first mismatches."""
    state_dict = unwrap_state_dict(checkpoint, WEIGHT_KEYS)
    own = model.state_dict()
    matched = [k for k in own if k in state_dict]
    backbone = getattr(model, 'backbone', None)
    if isinstance(backbone, nn.Module) and is_bare_backbone(state_dict, backbone):
        raise ValueError(
            f'checkpoint {source!r} holds the weights of a backbone alone (no key starts with '
            "'backbone.'), where a whole model's are expected; "
            + BACKBONE_ADVICE.format(path=source))
    if len(matched) < min_coverage * len(own):
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        raise ValueError(
            f'checkpoint {source!r} does not belong to this {type(model).__name__}: '
            f'{len(matched)} of the model\'s {len(own)} tensors are in it ({len(state_dict)} '
            f'in the checkpoint); first missing: {missing[:5]}; first unexpected: '
            f'{unexpected[:5]}. Check that the config and the checkpoint are of the same '
            'architecture and variant.')
    check_shapes(source, state_dict, model)


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
