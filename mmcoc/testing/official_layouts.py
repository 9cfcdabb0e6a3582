"""Weights written in the layouts of the official Context-Cluster releases, from a model.

No official file can be downloaded here, so the tests write them: each function re-creates one
release's key names and tensor shapes from an mmcoc model's weights.
"""
from typing import Dict

import torch
import torch.nn as nn


def official_classification(model: nn.Module, generation: int = 3) -> Dict[str, torch.Tensor]:
    """A ``ContextClusterClassifier``'s weights as an official classification release of that
    generation stores them: ``norm`` for ``norm6``; generation 1 also names the token mixer's
    convs ``fc1``/``fc2``/``fc_v`` and stores MLP weights as 1x1 convs."""
    state = {}
    for key, value in model.state_dict().items():
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
    tensor of ``model`` (which has a ``backbone``), with conv-shaped backbone MLP weights."""
    state = {}
    for key, value in model.state_dict().items():
        if key.startswith('backbone.') and '.mlp.fc' in key and key.endswith('weight'):
            value = value[:, :, None, None]
        state[key] = value.clone()
    return dict(meta=dict(epoch=12), state_dict=state)


def perturbed(model: nn.Module) -> nn.Module:
    """``model`` with every parameter moved, so that layer scales and norms matter."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model
