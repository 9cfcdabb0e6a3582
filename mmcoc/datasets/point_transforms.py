"""Transforms of point-cloud samples (``dict(points=[N, 3] float32, gt_label=int)``).

The official ScanObjectNN training augmentation is ``RandomScaleShiftPoints`` then
``ShufflePoints``; the test pipeline packs the points as they are. Randomness comes from numpy's
global generator, as in the official loader (mmengine seeds it per dataloader worker).
"""
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmpretrain.structures import DataSample

from mmcoc.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomScaleShiftPoints(BaseTransform):
    """``points * s + t`` with ``s`` uniform in ``scale`` and ``t`` in ``shift``, drawn
    independently per axis (official: scale in [2/3, 3/2], shift in [-0.2, 0.2])."""

    def __init__(self, scale=(2. / 3., 3. / 2.), shift=(-0.2, 0.2)):
        self.scale, self.shift = tuple(scale), tuple(shift)

    def transform(self, results: dict) -> dict:
        s = np.random.uniform(*self.scale, size=[3])
        t = np.random.uniform(*self.shift, size=[3])
        results['points'] = (results['points'] * s + t).astype(np.float32)
        return results

    def __repr__(self):
        return f'{type(self).__name__}(scale={self.scale}, shift={self.shift})'


@TRANSFORMS.register_module()
class ShufflePoints(BaseTransform):
    """The points in a random order."""

    def transform(self, results: dict) -> dict:
        points = np.array(results['points'], copy=True)
        np.random.shuffle(points)
        results['points'] = points
        return results


@TRANSFORMS.register_module()
class PackPointCloudInputs(BaseTransform):
    """``inputs``: the points as a ``[N, 3]`` float32 tensor; ``data_samples``: an mmpretrain
    ``DataSample`` with the label (and the sample index)."""

    def transform(self, results: dict) -> dict:
        points = torch.from_numpy(np.ascontiguousarray(results['points'], dtype=np.float32))
        sample = DataSample()
        if 'gt_label' in results:
            sample.set_gt_label(results['gt_label'])
        sample.set_metainfo(dict(sample_idx=results.get('sample_idx')))
        return dict(inputs=points, data_samples=sample)
