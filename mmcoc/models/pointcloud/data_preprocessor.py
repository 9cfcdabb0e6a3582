"""Batches of point clouds for mmpretrain's classifier."""
from typing import Optional

import torch
from mmengine.model import BaseDataPreprocessor

from mmcoc.registry import MODELS


@MODELS.register_module()
class PointCloudDataPreprocessor(BaseDataPreprocessor):
    """Stacks the samples' points (``[N, 3]`` each, as ``PackPointCloudInputs`` makes them)
    into ``[B, N, 3]`` float32 on the model's device; the data samples pass through.
    ``batch_augments`` (which mmpretrain's ``ImageClassifier`` hands over from its
    ``train_cfg``) must be empty: Mixup and CutMix are image augmentations."""

    def __init__(self, batch_augments=None, non_blocking: bool = False):
        super().__init__(non_blocking)
        if batch_augments:
            raise ValueError('PointCloudDataPreprocessor takes no batch augments, got '
                             f'{batch_augments}')

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            sizes = {tuple(p.shape) for p in inputs}
            if len(sizes) != 1:
                raise ValueError(f'point clouds of one batch must have one shape, got {sizes}')
            inputs = torch.stack(list(inputs))
        if inputs.dim() != 3 or inputs.shape[-1] != 3:
            raise ValueError(f'expected points [B, N, 3], got {tuple(inputs.shape)}')
        samples: Optional[list] = data.get('data_samples')
        return dict(inputs=inputs.float(), data_samples=samples)
