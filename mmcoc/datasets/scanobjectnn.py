"""ScanObjectNN (Uy et al., ICCV'19) in the layout of its h5 release, as the official
PointMLP / Context-Cluster code reads it.

``<data_root>/main_split/{training,test}_objectdataset_augmentedrot_scale75.h5`` (the hardest
variant, PB_T50_RS), each with ``data`` (``[objects, 2048, 3]`` float) and ``label``
(``[objects]``, 15 classes); the first ``num_points`` (1024) points of every object are used.
``tools/generate_pointcloud_data.py`` writes a synthetic set in the same layout, read by the
same class.
"""
import os.path as osp
from typing import Optional, Sequence

import numpy as np
from mmengine.dataset import BaseDataset

from mmcoc.registry import DATASETS

SPLITS = ('training', 'test')


def h5_path(data_root: str, split: str) -> str:
    """The h5 file of a split,
    ``<data_root>/main_split/<split>_objectdataset_augmentedrot_scale75.h5``."""
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
    return osp.join(data_root, 'main_split', f'{split}_objectdataset_augmentedrot_scale75.h5')


@DATASETS.register_module()
class ScanObjectNN(BaseDataset):
    """Objects of one split of ScanObjectNN (or a set written in its layout).

    Each sample is ``dict(points=[num_points, 3] float32, gt_label=int, sample_idx=int)`` for
    the pipeline (``RandomScaleShiftPoints``, ``ShufflePoints``, ``PackPointCloudInputs``).

    Args:
        data_root: the folder holding ``main_split/``.
        split: 'training' or 'test'.
        num_points: points kept of every object, its first ones (official: 1024 of 2048).
        metainfo: ``dict(classes=...)`` for a set of other classes (the synthetic one).
    """
    METAINFO = dict(classes=('bag', 'bin', 'box', 'cabinet', 'chair', 'desk', 'display',
                             'door', 'shelf', 'table', 'bed', 'pillow', 'sink', 'sofa',
                             'toilet'))

    def __init__(self, data_root: str, split: str = 'training', num_points: int = 1024,
                 metainfo: Optional[dict] = None, pipeline: Sequence = (),
                 test_mode: bool = False, **kwargs):
        self.split, self.num_points = split, num_points
        super().__init__(ann_file=h5_path('', split), metainfo=metainfo,
                         data_root=data_root, pipeline=list(pipeline), test_mode=test_mode,
                         **kwargs)

    def load_data_list(self):
        import h5py  # the pointcloud extra: only this dataset needs it
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'{self.ann_file} not found: put ScanObjectNN\'s h5_files under data_root '
                '(or write the synthetic set with tools/generate_pointcloud_data.py)')
        with h5py.File(self.ann_file, 'r') as f:
            if 'data' not in f or 'label' not in f:
                raise KeyError(f'{self.ann_file} holds {sorted(f)}, not "data" and "label"')
            data, label = f['data'], f['label'][:].astype(np.int64).reshape(-1)
            if data.ndim != 3 or data.shape[2] != 3 or data.shape[0] != len(label):
                raise ValueError(f'{self.ann_file}: data {data.shape} and label '
                                 f'{label.shape} are not [objects, points, 3] and [objects]')
            if data.shape[1] < self.num_points:
                raise ValueError(f'{self.ann_file} has {data.shape[1]} points per object, '
                                 f'fewer than num_points={self.num_points}')
            points = data[:, :self.num_points].astype(np.float32)
        classes = len(self.metainfo['classes'])
        if len(label) and not 0 <= label.min() <= label.max() < classes:
            raise ValueError(f'{self.ann_file}: labels {label.min()}..{label.max()} do not fit '
                             f'the {classes} classes')
        return [dict(points=points[i], gt_label=int(label[i]), sample_idx=i)
                for i in range(len(label))]

    def get_cat_ids(self, idx: int):
        return [self.get_data_info(idx)['gt_label']]
