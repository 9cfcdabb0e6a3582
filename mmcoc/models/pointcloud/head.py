"""The classifier of PointMLP / PointMLP_CoC as an mmpretrain head."""
from typing import Sequence, Tuple

import torch
import torch.nn as nn
from mmpretrain.models.heads import ClsHead

from mmcoc.registry import MODELS


@MODELS.register_module()
class PointMLPClsHead(ClsHead):
    """``Linear -> BN -> ReLU -> Dropout`` per hidden width, then ``Linear`` to the classes
    (official: 1024 -> 512 -> 256 -> classes, dropout 0.5), in ``classifier`` with the official
    indices. The loss, accuracy and predictions are mmpretrain's ``ClsHead``'s."""

    def __init__(self, num_classes: int, in_channels: int = 1024,
                 hidden_channels: Sequence[int] = (512, 256), dropout: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        self.num_classes, self.in_channels = num_classes, in_channels
        layers, width = [], in_channels
        for hidden in hidden_channels:
            layers += [nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                       nn.Dropout(dropout)]
            width = hidden
        layers.append(nn.Linear(width, num_classes))
        self.classifier = nn.Sequential(*layers)

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        return self.classifier(self.pre_logits(feats))
