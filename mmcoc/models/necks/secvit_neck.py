"""SecViT's classification neck (mmpretrain), the official classifier's layers before its head."""
from typing import Dict

import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule

from mmcoc.models.layers.weight_init import init_trunc_normal
from mmcoc.registry import MODELS

CLASSIFIER_DIM = 1024  # the classifier's 1x1 projection width, every variant


def classifier_layers(in_dim: int, norm_cfg: Dict = dict(type='BN')):
    """The official classifier's ``proj`` (1x1 conv to 1024), ``norm`` (BN) and Swish."""
    return (nn.Conv2d(in_dim, CLASSIFIER_DIM, 1), build_norm_layer(norm_cfg, CLASSIFIER_DIM)[1],
            nn.SiLU())


@MODELS.register_module()
class SecViTNeck(BaseModule):
    """SecViT's classification neck for mmpretrain: 1x1 conv to 1024, BN, Swish, global
    average. Give the last stage's map (``out_indices=3, norm_outputs=False``); follow it
    with ``LinearClsHead(in_channels=1024)``."""

    def __init__(self, in_channels: int = 512, norm_cfg: Dict = dict(type='BN'),
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.proj, self.norm, self.act = classifier_layers(in_channels, norm_cfg)
        init_trunc_normal(self.proj, nn.Conv2d)  # as the backbone's convs

    def forward(self, inputs):
        x = inputs[-1] if isinstance(inputs, (tuple, list)) else inputs
        x = self.act(self.norm(self.proj(x))).mean((2, 3))
        return (x, ) if isinstance(inputs, (tuple, list)) else x
