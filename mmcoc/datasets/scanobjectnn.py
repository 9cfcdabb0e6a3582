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


FIX = ("Download ScanObjectNN's h5_files again, or write a synthetic set with "
       'tools/generate_pointcloud_data.py --force')


def _refuse(path: str, problem: str) -> ValueError:
    return ValueError(f'{path} {problem}: it is not a ScanObjectNN file (data [objects, points, '
                      f'3] float, label [objects] integer class indices). {FIX}')


def read_objects(f, path: str, num_points: int):
    """The first ``num_points`` points of every object (``[objects, num_points, 3]`` float32)
    and the labels (``[objects]`` int64) of an open h5 file, or a ``ValueError`` naming the
    file and what is wrong: no objects, other shapes or counts, labels that are not integers
    (strings, 6.7), points that are NaN or Inf. Nothing is truncated or cast silently."""
    import h5py
    found = {key: f[key] for key in ('data', 'label') if key in f}
    if len(found) < 2 or not all(isinstance(v, h5py.Dataset) for v in found.values()):
        raise _refuse(path, f'holds {sorted(f)}, not the datasets "data" and "label"')
    data, labels = found['data'], found['label']
    if labels.dtype.kind not in 'iuf':
        raise _refuse(path, f'has labels of dtype {labels.dtype} (strings or other '
                      'non-numbers), not class indices')
    if data.dtype.kind not in 'iuf':
        raise _refuse(path, f'has points of dtype {data.dtype}, not numbers')
    if data.ndim != 3 or data.shape[2] != 3:
        raise _refuse(path, f'has data of shape {data.shape}, not [objects, points, 3]')
    if labels.ndim not in (1, 2) or labels.ndim == 2 and labels.shape[1] != 1:
        raise _refuse(path, f'has labels of shape {labels.shape}, not [objects]')
    if data.shape[0] != labels.shape[0]:
        raise _refuse(path, f'holds {data.shape[0]} objects but {labels.shape[0]} labels')
    if data.shape[0] == 0:
        raise _refuse(path, 'holds no objects')
    if data.shape[1] < num_points:
        raise ValueError(f'{path} has {data.shape[1]} points per object, fewer than '
                         f'num_points={num_points}. Lower num_points, or use the h5 files of '
                         'the release (2048 points per object)')
    label = labels[:].reshape(-1)
    if label.dtype.kind == 'f':
        wrong = ~np.isfinite(label) | (label != np.round(label))
        if wrong.any():
            index = int(np.flatnonzero(wrong)[0])
            raise _refuse(path, f'has labels that are not whole numbers ({int(wrong.sum())} '
                          f'of {len(label)}; the first: object {index}, {float(label[index])})')
    label = label.astype(np.int64)
    points = data[:, :num_points].astype(np.float32)
    if not np.isfinite(points).all():
        bad = ~np.isfinite(points).all(axis=(1, 2))
        raise _refuse(path, f'has NaN or Inf points ({int(bad.sum())} of {len(bad)} objects; '
                      f'the first: object {int(np.flatnonzero(bad)[0])})')
    return points, label


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
        path = self.ann_file
        try:
            with h5py.File(path, 'r') as f:
                points, label = read_objects(f, path, self.num_points)
        except OSError as err:  # h5py: a cut-off file, not HDF5, chunks that cannot be read
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise OSError(f'{path} is truncated or not an HDF5 file ({reason}). {FIX}') from None
        classes = len(self.metainfo['classes'])
        if not 0 <= label.min() <= label.max() < classes:
            raise ValueError(f'{path}: labels {label.min()}..{label.max()} do not fit the '
                             f'{classes} classes. Pass the set\'s classes as '
                             'metainfo=dict(classes=[...]) (a synthetic set lists them in its '
                             'shape_names.txt), or use the file of this class list')
        return [dict(points=points[i], gt_label=int(label[i]), sample_idx=i)
                for i in range(len(label))]

    def get_cat_ids(self, idx: int):
        return [self.get_data_info(idx)['gt_label']]
