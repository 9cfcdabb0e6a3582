"""ScanObjectNN's h5 layout, the official augmentation, OA / mAcc, the synthetic generator."""
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from mmpretrain.evaluation import Accuracy
from mmpretrain.structures import DataSample

from mmcoc.datasets import (
    PackPointCloudInputs,
    RandomScaleShiftPoints,
    ScanObjectNN,
    ShufflePoints,
    write_scanobjectnn_h5,
)
from mmcoc.datasets.scanobjectnn import h5_path
from mmcoc.evaluation import MeanClassAccuracy
from tests.helpers import import_tool

generate_pointcloud_data = import_tool('tools/generate_pointcloud_data.py')


def written(tmp_path, objects=6, points=2048):
    rng = np.random.default_rng(0)
    data = rng.normal(size=(objects, points, 3)).astype(np.float32)
    label = np.arange(objects) % 15
    for split in ('training', 'test'):
        write_scanobjectnn_h5(h5_path(str(tmp_path), split), data, label)
    return data, label


def test_reads_the_official_layout_first_1024_points(tmp_path):
    data, label = written(tmp_path)
    assert (tmp_path / 'main_split' / 'test_objectdataset_augmentedrot_scale75.h5').is_file()
    dataset = ScanObjectNN(str(tmp_path), split='test', pipeline=[PackPointCloudInputs()])
    assert len(dataset) == 6 and len(dataset.metainfo['classes']) == 15
    assert dataset.metainfo['classes'][:3] == ('bag', 'bin', 'box')
    sample = dataset[4]
    assert torch.equal(sample['inputs'], torch.from_numpy(data[4, :1024]))
    assert sample['data_samples'].gt_label.tolist() == [label[4]]
    assert dataset.get_cat_ids(4) == [4]


def test_bad_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='training_objectdataset_augmentedrot_scale75'):
        ScanObjectNN(str(tmp_path))
    write_scanobjectnn_h5(h5_path(str(tmp_path), 'training'), np.zeros((2, 100, 3)), [0, 1])
    with pytest.raises(ValueError, match='100 points per object'):
        ScanObjectNN(str(tmp_path))
    write_scanobjectnn_h5(h5_path(str(tmp_path), 'training'), np.zeros((2, 2048, 3)), [0, 15])
    with pytest.raises(ValueError, match='do not fit the 15 classes'):
        ScanObjectNN(str(tmp_path))
    with pytest.raises(ValueError, match='split must be one of'):
        ScanObjectNN(str(tmp_path), split='val')


def test_official_training_augmentation():
    points = np.random.default_rng(1).normal(size=(1024, 3)).astype(np.float32)
    np.random.seed(3)
    scaled = RandomScaleShiftPoints().transform(dict(points=points.copy()))['points']
    np.random.seed(3)  # the official translate_pointcloud, draw for draw
    scale = np.random.uniform(low=2. / 3., high=3. / 2., size=[3])
    shift = np.random.uniform(low=-0.2, high=0.2, size=[3])
    assert np.array_equal(scaled, np.add(np.multiply(points, scale), shift).astype('float32'))
    shuffled = ShufflePoints().transform(dict(points=scaled))['points']
    assert not np.array_equal(shuffled, scaled)
    assert np.array_equal(np.sort(shuffled, 0), np.sort(scaled, 0))


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_oa_and_macc():
    from sklearn.metrics import balanced_accuracy_score
    rng = np.random.default_rng(0)
    target = rng.integers(0, 5, 200)
    pred = np.where(rng.random(200) < 0.6, target, rng.integers(0, 5, 200))
    target[target == 4] = 3  # a class that never occurs in the ground truth
    samples = []
    for t, p in zip(target, pred):
        score = torch.zeros(5)
        score[p] = 1
        samples.append(DataSample().set_gt_label(int(t)).set_pred_score(score).to_dict())
    results = {}
    for metric in (Accuracy(topk=(1, )), MeanClassAccuracy()):
        metric.process(None, samples)
        results.update(metric.evaluate(len(samples)))
    assert results['accuracy/top1'] == pytest.approx(100 * (pred == target).mean())
    assert results['accuracy/mAcc'] == pytest.approx(100 * balanced_accuracy_score(target, pred))


def test_generator_writes_the_same_layout(tmp_path, capsys):
    out = str(tmp_path / 'synthetic')
    args = ['--out', out, '--train', '20', '--test', '10', '--seed', '1']
    generate_pointcloud_data.main(args)
    generate_pointcloud_data.main(args)
    assert 'already in' in capsys.readouterr().out
    train = ScanObjectNN(out, metainfo=dict(
        classes=(Path(out) / 'shape_names.txt').read_text().split()))
    assert len(train) == 20 and len(train.metainfo['classes']) == 10
    labels = [train.get_cat_ids(i)[0] for i in range(20)]
    assert sorted(labels) == sorted(list(range(10)) * 2)  # classes in turn
    import h5py
    with h5py.File(h5_path(out, 'test'), 'r') as f:
        data = f['data'][:]
        assert data.shape == (10, 2048, 3) and data.dtype == np.float32
    radius = np.linalg.norm(data, axis=-1)
    assert np.allclose(radius.max(1), 1, atol=1e-5)  # centred and scaled into the unit sphere
    assert (radius > 0).all() and len(np.unique(data[0], axis=0)) == 2048


def write_h5(path, **datasets):
    import h5py
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, 'w') as f:
        for key, value in datasets.items():
            f.create_dataset(key, data=value)
    return path


POINTS = np.zeros((3, 2048, 3), np.float32)


@pytest.mark.parametrize('case, datasets, problem', [
    ('float labels', dict(data=POINTS, label=np.array([6.7, 1.0, 2.0])),
     r'has labels that are not whole numbers \(1 of 3; the first: object 0, 6\.7\)'),
    ('nan label', dict(data=POINTS, label=np.array([1.0, np.nan, 2.0])),
     r'not whole numbers \(1 of 3; the first: object 1, nan\)'),
    ('string labels', dict(data=POINTS, label=np.array([b'3', b'1', b'2'])),
     r'labels of dtype \|S1 \(strings or other non-numbers\), not class indices'),
    ('zero objects', dict(data=np.zeros((0, 2048, 3), np.float32),
                          label=np.zeros(0, np.int64)), 'holds no objects'),
    ('count mismatch', dict(data=POINTS, label=np.arange(4)), 'holds 3 objects but 4 labels'),
    ('2-d points', dict(data=np.zeros((3, 2048), np.float32), label=np.arange(3)),
     r'data of shape \(3, 2048\), not \[objects, points, 3\]'),
    ('labels [objects, 2]', dict(data=POINTS, label=np.zeros((3, 2), np.int64)),
     r'labels of shape \(3, 2\), not \[objects\]'),
    ('no label', dict(data=POINTS), r"holds \['data'\], not the datasets"),
])
def test_wrong_data_is_refused_naming_the_file_and_the_fix(tmp_path, case, datasets, problem):
    path = write_h5(h5_path(str(tmp_path), 'training'), **datasets)
    with pytest.raises(ValueError) as error:
        ScanObjectNN(str(tmp_path))
    message = str(error.value)
    assert message.startswith(path) and '\n' not in message
    assert re.search(problem, message), message
    assert message.endswith('tools/generate_pointcloud_data.py --force')


def test_integral_float_labels_and_a_label_column_are_read(tmp_path):
    write_h5(h5_path(str(tmp_path), 'training'), data=POINTS, label=np.array([[6.], [1.], [2.]]))
    assert [ScanObjectNN(str(tmp_path)).get_cat_ids(i)[0] for i in range(3)] == [6, 1, 2]


def test_nan_points_are_refused(tmp_path):
    points = POINTS.copy()
    points[2, 7, 1] = np.inf
    write_h5(h5_path(str(tmp_path), 'training'), data=points, label=np.arange(3))
    with pytest.raises(ValueError, match=r'has NaN or Inf points \(1 of 3 objects; the first: '
                                         r'object 2\)'):
        ScanObjectNN(str(tmp_path))


@pytest.mark.parametrize('keep', [0.5, 100])
def test_truncated_h5_is_named(tmp_path, keep):
    data, _ = written(tmp_path)
    path = h5_path(str(tmp_path), 'training')
    content = Path(path).read_bytes()
    Path(path).write_bytes(content[:int(len(content) * keep) if keep < 1 else keep])
    with pytest.raises(OSError) as error:
        ScanObjectNN(str(tmp_path))
    message = str(error.value)
    assert message.startswith(f'{path} is truncated or not an HDF5 file (') and '\n' not in message
    assert message.endswith('tools/generate_pointcloud_data.py --force')
