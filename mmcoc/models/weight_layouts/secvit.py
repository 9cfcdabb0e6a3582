"""SecViT weights of every layout (official DeiT-style releases, mmcoc, timm, mmpretrain) under
mmcoc's names."""
import re
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn

from mmcoc.utils.checkpoint import unwrap_state_dict

from .common import CheckpointParts

_CLASSIFIER_PREFIXES = ('proj.', 'norm.', 'head.')
_MMPRETRAIN_RENAMES = {'neck.proj.': 'proj.', 'neck.norm.': 'norm.', 'head.fc.': 'head.'}
# LayerNorms saved without the LayerNorm2d wrapper (``norm1.weight``) get the wrapper's name
_BARE_LAYER_NORM = re.compile(r'^(layers\.\d+\.blocks\.\d+\.norm[12]|out_norm\d)\.(weight|bias)$')
# the release's per-stage rotary module keeps its inverse frequencies as a persistent buffer
_ROTARY_BUFFER = re.compile(r'^layers\.\d+\.RoPE\.')


def _canonical(key: str, value: torch.Tensor) -> Tuple[str, torch.Tensor]:
    key = _BARE_LAYER_NORM.sub(r'\1.norm.\2', key)
    if key == 'head.weight' and value.dim() == 4:  # a 1x1-conv head
        value = value.flatten(1)
    elif key == 'proj.weight' and value.dim() == 2:  # a linear projection
        value = value[:, :, None, None]
    elif re.search(r'\.gamma_[12]$', key) and value.dim() == 1:
        value = value.view(1, -1, 1, 1)
    return key, value


def split_checkpoint(state_dict: Dict, use_ema: bool = False) -> CheckpointParts:
    """Take SecViT weights of any layout apart (see ``checkpoint_filter_fn``): the backbone
    under mmcoc's names, the classifier as the timm model's ``proj.*``, ``norm.*``, ``head.*``,
    a detector's or segmentor's neck and heads, and the release's rotary buffers (dropped)."""
    if use_ema:
        if not isinstance(state_dict, dict) or not isinstance(state_dict.get('model_ema'), dict):
            raise KeyError('use_ema=True needs a checkpoint with a "model_ema" entry (the '
                           'official DeiT-style releases); this one has none')
        state_dict = state_dict['model_ema']
    source = unwrap_state_dict(state_dict)
    prefixed = any(k.startswith('backbone.') for k in source)
    parts = CheckpointParts({}, {}, {}, [], [], [])
    for source_key, value in source.items():
        key = source_key
        if prefixed:
            if key.startswith('backbone.'):
                key = key[len('backbone.'):]
            else:
                renamed = next((new + key[len(old):] for old, new in _MMPRETRAIN_RENAMES.items()
                                if key.startswith(old)), None)
                if renamed is None:
                    parts.others[key] = value  # a detector's or segmentor's neck and heads
                    continue
                key = renamed
        if _ROTARY_BUFFER.match(key):
            # the release stores its rotary inverse frequencies; rotary_tables computes the
            # same ones, for whatever map size comes
            parts.dropped.append(source_key)
            continue
        new_key, new_value = _canonical(key, value)
        target = parts.classifier if new_key.startswith(_CLASSIFIER_PREFIXES) else parts.backbone
        target[new_key] = new_value
        if new_key != key:
            parts.renamed.append((source_key, new_key))
        if new_value.shape != value.shape:
            parts.reshaped.append((new_key, tuple(value.shape), tuple(new_value.shape)))
    return parts


def checkpoint_filter_fn(state_dict: Dict, model: Optional[nn.Module] = None,
                         use_ema: bool = False) -> Dict:
    """Map SecViT weights of any layout onto mmcoc's names: the backbone keys plus the
    classifier's ``proj.*``, ``norm.*``, ``head.*`` where the file has them.

    Sources: official DeiT-style releases (``model`` and ``model_ema``; ``use_ema`` picks the
    EMA weights), bare state dicts, mmcoc/timm checkpoints, mmpretrain ``ImageClassifier``
    checkpoints (``backbone.*``, ``neck.proj/norm.*``, ``head.fc.*``) and whole mmdet/mmseg
    models (``backbone.*``; their necks and heads are left out). LayerNorms saved without the
    official ``LayerNorm2d`` wrapper, conv-shaped heads, linear projections and flat layer
    scales are renamed/reshaped to this implementation's; the release's persistent rotary
    buffers (``layers.N.RoPE.angle``) are left out, so that strict loads (timm's
    ``pretrained_cfg_overlay=dict(file=...)``) succeed.
    """
    parts = split_checkpoint(state_dict, use_ema=use_ema)
    return {**parts.backbone, **parts.classifier}
