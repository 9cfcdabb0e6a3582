"""The fixed Sobel input layer of DeepCluster, as a data preprocessor.

DeepCluster (Caron et al., ECCV'18) feeds AlexNet/VGG not colour but edges: the normalised RGB
image is averaged to one grey channel and filtered by the horizontal and vertical Sobel
kernels, two channels that take away colour, the easiest cue for k-means to latch on to. The
weights are fixed, so the layer lives in the model's data preprocessor (a submodule of the
model, saved with it): the DeepCluster pretraining, its linear probe and mmpretrain's inference
API all see the same two channels without any change to the classifier or backbone classes.
The backbone then takes ``in_channels=2``.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.utils.data_preprocessor import ClsDataPreprocessor

from ...registry import MODELS


class Sobel(nn.Module):
    """``[N, 3, H, W]`` normalised RGB -> ``[N, 2, H, W]`` Sobel responses of its grey mean.

    The reference code's grey level is the plain mean of the three normalised channels (a 1x1
    conv filled with 1/3), followed by the two 3x3 Sobel kernels with padding 1.
    """

    def __init__(self):
        super().__init__()
        gx = torch.tensor([[1., 0., -1.], [2., 0., -2.], [1., 0., -1.]])
        kernels = torch.stack([gx, gx.t()]).unsqueeze(1)  # [2, 1, 3, 3]
        # Buffers, not parameters: the optimizer never sees them and checkpoints need not.
        self.register_buffer('kernels', kernels, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f'Sobel expects RGB images as a [N, 3, H, W] tensor, got '
                             f'{list(x.shape)}; convert gray images to RGB in the pipeline')
        grey = x.mean(dim=1, keepdim=True)
        return F.conv2d(grey, self.kernels.to(grey.dtype), padding=1)


@MODELS.register_module()
class SobelDataPreprocessor(ClsDataPreprocessor):
    """mmpretrain's ``ClsDataPreprocessor`` (to RGB, normalise, labels, batch augments)
    followed by the fixed :class:`Sobel` layer; for ``DeepCluster`` and its linear probes."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.sobel = Sobel()

    def forward(self, data: dict, training: bool = False) -> dict:
        data = super().forward(data, training)
        data['inputs'] = self.sobel(data['inputs'])
        return data
