"""mmpretrain's VGG with a choice of input channels, for the Sobel input of DeepCluster."""
import torch.nn as nn
from mmpretrain.models.backbones import VGG as MMPretrainVGG

from ...registry import MODELS


@MODELS.register_module()
class VGG(MMPretrainVGG):
    """``type='mmcoc.VGG'``: mmpretrain's ``VGG`` (same arguments, same layers and weight
    names) whose first convolution takes ``in_channels`` channels; mmpretrain's fixes 3.
    DeepCluster's VGG-16 sees the 2 Sobel channels."""

    def __init__(self, depth: int, in_channels: int = 3, **kwargs):
        super().__init__(depth, **kwargs)
        first = self.features[0]  # an mmcv ConvModule
        if in_channels != first.conv.in_channels:
            conv = first.conv
            first.conv = nn.Conv2d(in_channels, conv.out_channels, conv.kernel_size,
                                   conv.stride, conv.padding, conv.dilation,
                                   bias=conv.bias is not None)
            first.in_channels = in_channels
