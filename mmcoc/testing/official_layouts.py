"""Weights written in the layouts of the official Context-Cluster releases, from a model.

No official file can be downloaded here, so the tests write them: each function re-creates one
release's key names and tensor shapes from an mmcoc model's weights.
"""
import re
from typing import Dict

import torch
import torch.nn as nn

_STAGE_KEY = re.compile(r'stages\.(\d+)\.(blocks|downsample)\.(.+)')
_NORM_KEY = re.compile(r'norm(\d+)\.(.+)')


def network_layout_key(key: str) -> str:
    """A Context-Cluster backbone key of mmcoc's stage layout (2) under the flat ``network``
    layout (1) of the official releases and of mmcoc's older files: the inverse of
    ``mmcoc.models.weight_layouts.context_cluster.stage_layout_key``, written here apart from it
    so that the tests check one against the other."""
    match = _STAGE_KEY.fullmatch(key)
    if match:
        stage, part, rest = int(match[1]), match[2], match[3]
        return f'network.{2 * stage - (part == "downsample")}.{rest}'
    match = _NORM_KEY.fullmatch(key)
    return f'norm{2 * int(match[1])}.{match[2]}' if match else key


def network_layout(state: Dict[str, torch.Tensor], prefix: str = '') -> Dict:
    """``state`` with the backbone keys under ``prefix`` in the ``network`` layout and, as
    mmcoc's files of that layout record it, layout version 1 for the backbone."""
    out = type(state)()
    for key, value in state.items():
        out[prefix + network_layout_key(key[len(prefix):]) if key.startswith(prefix)
            else key] = value
    metadata = getattr(state, '_metadata', None)
    if metadata is not None:
        out._metadata = type(metadata)(metadata)
        out._metadata[prefix[:-1]] = {**metadata.get(prefix[:-1], {}), 'version': 1}
    return out


def official_classification(model: nn.Module, generation: int = 3) -> Dict[str, torch.Tensor]:
    """A ``ContextClusterClassifier``'s weights as an official classification release of that
    generation stores them: the ``network`` layout, ``norm`` for ``norm6``; generation 1 also
    names the token mixer's convs ``fc1``/``fc2``/``fc_v`` and stores MLP weights as 1x1
    convs."""
    state = {}
    for key, value in model.state_dict().items():
        key = network_layout_key(key)
        if key.startswith('norm6.'):
            key = 'norm.' + key[len('norm6.'):]
        if generation == 1:
            key = key.replace('token_mixer.f.', 'token_mixer.fc1.')
            key = key.replace('token_mixer.proj.', 'token_mixer.fc2.')
            key = key.replace('token_mixer.v.', 'token_mixer.fc_v.')
            if '.mlp.fc' in key and key.endswith('weight'):
                value = value[:, :, None, None]
        state[key] = value.clone()
    return state


def official_dense(model: nn.Module) -> Dict:
    """A whole detector/segmentor's checkpoint as the official dense releases store it: every
    tensor of ``model`` (which has a ``backbone``), the backbone's in the ``network`` layout
    with conv-shaped MLP weights."""
    state = {}
    for key, value in model.state_dict().items():
        if key.startswith('backbone.'):
            key = 'backbone.' + network_layout_key(key[len('backbone.'):])
            if '.mlp.fc' in key and key.endswith('weight'):
                value = value[:, :, None, None]
        state[key] = value.clone()
    return dict(meta=dict(epoch=12), state_dict=state)


def perturbed(model: nn.Module) -> nn.Module:
    """``model`` with every parameter moved, so that layer scales and norms matter."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model
