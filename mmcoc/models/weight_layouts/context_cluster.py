"""Context-Cluster (and FEC) weights of every released layout under mmcoc's names and shapes,
and the ``cluster_normalizer`` a release was trained with."""
import re
import warnings
from typing import Dict, Iterable, Optional, Tuple

import torch
import torch.nn as nn

from mmcoc.utils.checkpoint import unwrap_state_dict

from .common import CheckpointParts

# The layout of mmcoc's Context-Cluster (and FEC) tensors, recorded by torch in every state
# dict (``ContextCluster._version``). 1: the official releases' flat ``network`` list, the
# blocks of stage s at ``network.{2s}``, the downsampling into it at ``network.{2s-1}``, the
# stage outputs' norms ``norm{2s}`` (the classifier's ``norm``); mmcoc wrote it until 2026-12.
# 2: a module per stage, ``stages.{s}.blocks`` and ``stages.{s}.downsample``, norms ``norm{s}``.
LAYOUT_VERSION = 2
_FINAL_NORM = 'norm3'
_NETWORK_KEY = re.compile(r'network\.(\d+)\.(.+)')
_NETWORK_NORM_KEY = re.compile(r'norm(\d+)\.(.+)')

# Official renames of the first generation's token-mixer convs.
_OFFICIAL_RENAMES = {'token_mixer.fc1.': 'token_mixer.f.', 'token_mixer.fc2.': 'token_mixer.proj.',
                     'token_mixer.fc_v.': 'token_mixer.v.'}


def is_network_layout(keys: Iterable[str]) -> bool:
    """Whether a backbone's keys (without prefix) are of the flat ``network`` layout (1)."""
    return any(k.startswith('network.') for k in keys)


def stage_layout_key(key: str) -> str:
    """A backbone key of the ``network`` layout (1) under the stage layout (2)."""
    match = _NETWORK_KEY.fullmatch(key)
    if match:
        index, rest = int(match[1]), match[2]
        part = 'downsample' if index % 2 else 'blocks'
        return f'stages.{(index + 1) // 2}.{part}.{rest}'
    match = _NETWORK_NORM_KEY.fullmatch(key)
    if match and int(match[1]) % 2 == 0:
        return f'norm{int(match[1]) // 2}.{match[2]}'
    if key.startswith('norm.'):  # the official classifier's final norm
        return _FINAL_NORM + key[4:]
    return key


def upgrade_network_layout(state_dict: Dict, prefix: str, version: Optional[int]):
    """Rename, in place, a Context-Cluster backbone's keys under ``prefix`` from the ``network``
    layout to the stage layout where they are of it: where ``version`` (the layout the state
    dict records for the backbone) is below ``LAYOUT_VERSION``, or, where it records none, where
    a key is under ``network.``. (The keys alone cannot tell a layout-2 ``norm2``, stage 2's
    norm, from a layout-1 ``norm2``, stage 1's, when no ``network`` key comes with it.)"""
    keys = [k for k in state_dict if k.startswith(prefix)]
    if version is not None:
        legacy = version < LAYOUT_VERSION
    else:
        legacy = is_network_layout(k[len(prefix):] for k in keys)
    if not legacy:
        return
    renamed = {}
    for key in keys:
        new = prefix + stage_layout_key(key[len(prefix):])
        if new != key:
            renamed[new] = state_dict.pop(key)
    state_dict.update(renamed)  # after every pop: norm4 -> norm2 must not meet the old norm2


def map_backbone_key(key: str, value: torch.Tensor,
                     network_layout: bool) -> Tuple[str, torch.Tensor]:
    """One backbone tensor of any released layout, under mmcoc's name and shape;
    ``network_layout``: the checkpoint is of the flat ``network`` layout."""
    for old, new in _OFFICIAL_RENAMES.items():
        key = key.replace(old, new)
    if network_layout:
        key = stage_layout_key(key)
    if '.mlp.fc' in key and key.endswith('.weight') and value.dim() == 4:
        value = value.flatten(1)  # conv-shaped 1x1 MLP weights of the older releases
    return key, value


def trained_normalizer(checkpoint: Dict) -> Tuple[Optional[str], str]:
    """The ``cluster_normalizer`` an official Context-Cluster release was trained with, read
    from its layout, and the evidence; ``(None, '')`` where the layout does not tell.

    The official code divided a cluster's sum by ``1 + |cluster|`` (``'count'``) until
    2023-05-31 ("fix bug mask.sum to sim.sum"), by ``1 + sum(sim)`` (``'similarity'``, the
    paper's Eq. 1) since. The 2023-03 releases (the first classification checkpoints and every
    released Mask R-CNN and Semantic FPN model) name the token mixer's convs
    ``fc1``/``fc2``/``fc_v`` or store conv-shaped ``[out, in, 1, 1]`` MLP weights; the later
    classification releases (the 2024 re-training behind 73.2 / 73.8 / 78.1 / 81.2) have
    ``f``/``v``/``proj``, Linear MLPs and the classifier's ``norm``. mmcoc and mmpretrain
    checkpoints (``norm6``; ``norm3`` since layout 2) say nothing, unless
    ``meta['cluster_normalizer']`` (written by ``tools/model_converters/official2mmcoc.py``)
    does. FEC releases (ClusterPool ``conv_f``)
    have one normaliser and say nothing either.
    """
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    if isinstance(meta, dict) and meta.get('cluster_normalizer') is not None:
        return meta['cluster_normalizer'], 'recorded in the checkpoint\'s meta'
    source = {k[len('backbone.'):] if k.startswith('backbone.') else k: v
              for k, v in unwrap_state_dict(checkpoint).items()}
    if any('.conv_f.' in k for k in source):
        return None, ''
    old_names = any(k.startswith('network.') and old in k
                    for k in source for old in _OFFICIAL_RENAMES)
    mlp_weights = [v for k, v in source.items()
                   if k.startswith('network.') and '.mlp.fc' in k and k.endswith('.weight')]
    if old_names or any(v.dim() == 4 for v in mlp_weights):
        evidence = ' and '.join(
            [what for what, seen in (('fc1/fc2/fc_v token-mixer names', old_names),
                                     ('conv-shaped MLP weights',
                                      any(v.dim() == 4 for v in mlp_weights))) if seen])
        return 'count', f'a 2023-03 release: {evidence}'
    if mlp_weights and 'norm.weight' in source:
        return 'similarity', 'an official classification release since 2023-05-31: ' \
                             'f/v/proj names and Linear MLP weights'
    return None, ''


def split_checkpoint(checkpoint: Dict) -> CheckpointParts:
    """Take a Context-Cluster checkpoint of any released layout apart (see
    ``checkpoint_filter_fn``): a whole model's ``backbone.*`` and ``head.fc.*``, or a bare
    backbone with a timm-layout ``head.*``; the classifier comes out under the timm model's
    ``head.*``."""
    source = unwrap_state_dict(checkpoint)
    prefixed = any(k.startswith('backbone.') for k in source)
    network_layout = is_network_layout(
        k[len('backbone.'):] if prefixed and k.startswith('backbone.') else k for k in source)
    parts = CheckpointParts({}, {}, {}, [], [], [], *trained_normalizer(checkpoint))
    for key, value in source.items():
        if prefixed and not key.startswith('backbone.'):
            if key.startswith('head.fc.'):
                parts.classifier['head.' + key[len('head.fc.'):]] = value
            else:
                parts.others[key] = value
            continue
        bare = key[len('backbone.'):] if prefixed else key
        if bare.startswith('head.'):
            parts.classifier[bare] = value
            continue
        new_key, new_value = map_backbone_key(bare, value, network_layout)
        parts.backbone[new_key] = new_value
        if new_key != bare:
            parts.renamed.append((key, new_key))
        if new_value.shape != value.shape:
            parts.reshaped.append((new_key, tuple(value.shape), tuple(new_value.shape)))
    return parts


class NormalizerMismatchWarning(UserWarning):
    """A Context-Cluster checkpoint loaded into a model with another ``cluster_normalizer``
    than it was trained with: its outputs differ from the release's. Turn it into an error with
    ``warnings.simplefilter('error', NormalizerMismatchWarning)``."""


def check_normalizer(parts: CheckpointParts, model: Optional[nn.Module]):
    """Warn, in one line naming the setting, when ``model`` clusters with another normaliser
    than the checkpoint was trained with."""
    own = getattr(model, 'cluster_normalizer', None)
    wanted = parts.trained_normalizer
    # FEC (plain weighting) has a single normaliser: nothing to choose
    if wanted is None or own is None or own == wanted or model.mixer_weighting != 'similarity':
        return
    warnings.warn(
        f"this checkpoint was trained with cluster_normalizer='{wanted}' ({parts.evidence}), "
        f"but the {type(model).__name__} uses '{own}', so its outputs differ from the "
        f"release's: build it with cluster_normalizer='{wanted}' (in a config: --cfg-options "
        f'model.backbone.cluster_normalizer={wanted})', NormalizerMismatchWarning, stacklevel=2)


def checkpoint_filter_fn(state_dict: Dict, model: Optional[nn.Module] = None) -> Dict:
    """Map any released layout of Context-Cluster weights onto mmcoc's module names.

    Accepts mmcoc/mmpretrain/mmdet/mmseg checkpoints (``backbone.`` prefix, ``head.fc``) and the
    three official generations: the first named the token mixer's convs ``fc1``/``fc2``/``fc_v``
    and stored MLP weights conv-shaped ``[out, in, 1, 1]``; the detection/segmentation releases
    keep conv-shaped MLPs; the classification ones keep the final ``norm`` (our ``norm3``).
    ``state_dict`` may be a whole checkpoint (with ``state_dict``/``model``) or bare. The result
    is the backbone's tensors plus a linear classifier as ``head.*`` where there is one; a
    detector's or segmentor's neck and heads are left out. Where the layout tells which
    normaliser trained the weights (``trained_normalizer``) and ``model`` uses the other one,
    a ``NormalizerMismatchWarning`` says which setting to use.
    """
    parts = split_checkpoint(state_dict)
    check_normalizer(parts, model)
    return {**parts.backbone, **parts.classifier}
