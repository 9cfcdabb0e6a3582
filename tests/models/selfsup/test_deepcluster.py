"""The DeepCluster algorithm and its Sobel input layer."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmcoc.models.selfsup import Sobel

NUM_CLUSTERS = 5


def build(**kwargs):
    init_default_scope('mmpretrain')
    cfg = dict(
        type='mmcoc.DeepCluster',
        backbone=dict(type='ResNet', depth=18, in_channels=3),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=NUM_CLUSTERS, in_channels=512,
                  loss=dict(type='CrossEntropyLoss')))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def samples(indices):
    return [DataSample(metainfo=dict(sample_idx=i)) for i in indices]


def test_sobel_matches_a_naive_loop():
    torch.manual_seed(0)
    images = torch.randn(2, 3, 7, 9, dtype=torch.float64)
    out = Sobel()(images)
    grey = F.pad(images.mean(dim=1), (1, 1, 1, 1))
    gx = [[1, 0, -1], [2, 0, -2], [1, 0, -1]]
    expected = torch.zeros(2, 2, 7, 9, dtype=torch.float64)
    for n in range(2):
        for i in range(7):
            for j in range(9):
                for a in range(3):
                    for b in range(3):
                        expected[n, 0, i, j] += gx[a][b] * grey[n, i + a, j + b]
                        expected[n, 1, i, j] += gx[b][a] * grey[n, i + a, j + b]
    torch.testing.assert_close(out, expected)


def test_sobel_rejects_non_rgb_input():
    with pytest.raises(ValueError, match='RGB'):
        Sobel()(torch.zeros(1, 1, 8, 8))


def test_sobel_preprocessor_feeds_two_channels_to_the_backbone():
    model = build(backbone=dict(type='ResNet', depth=18, in_channels=2),
                  data_preprocessor=dict(type='mmcoc.SobelDataPreprocessor',
                                         mean=[128.] * 3, std=[64.] * 3, to_rgb=True))
    data = dict(inputs=[torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8)] * 2,
                data_samples=samples([0, 1]))
    inputs = model.data_preprocessor(data, False)['inputs']
    assert inputs.shape == (2, 2, 32, 32)
    # a flat image has no edges away from the zero padding
    flat = model.data_preprocessor(
        dict(inputs=[torch.full((3, 8, 8), 7, dtype=torch.uint8)], data_samples=samples([0])),
        False)['inputs']
    assert flat[..., 1:-1, 1:-1].abs().max() < 1e-6
    assert model.extract_feat(inputs)[0].shape == (2, 512)


def test_loss_is_cross_entropy_against_the_pseudo_label_of_each_sample():
    model = build()
    labels = torch.tensor([3, 0, 4, 1, 2, 2, 0])
    model.set_pseudo_labels(labels)
    inputs = torch.randn(3, 3, 32, 32)
    indices = [5, 0, 2]
    loss = model.loss(inputs, samples(indices))['loss']
    logits = model.head(model.extract_feat(inputs))
    torch.testing.assert_close(loss, F.cross_entropy(logits, labels[indices]))


def test_reset_head_draws_from_the_reference_normal():
    model = build(head=dict(type='LinearClsHead', num_classes=2000, in_channels=512))
    before = model.head.fc.weight.detach().clone()
    model.reset_head()
    weight = model.head.fc.weight
    assert not torch.equal(weight, before)
    assert weight.std().item() == pytest.approx(0.01, rel=0.01)  # 1M draws
    assert weight.mean().abs().item() < 1e-4
    assert torch.all(model.head.fc.bias == 0)


def test_errors_name_the_fix():
    model = build()
    with pytest.raises(RuntimeError, match='DeepClusterHook'):
        model.loss(torch.randn(1, 3, 32, 32), samples([0]))
    with pytest.raises(ValueError, match=r'\[0, 5\)'):
        model.set_pseudo_labels(torch.tensor([0, 5]))
    model.set_pseudo_labels(torch.tensor([0, 1]))
    with pytest.raises(IndexError, match='not the set the hook clustered'):
        model.loss(torch.randn(1, 3, 32, 32), samples([2]))
    with pytest.raises(ValueError, match='num_classes'):
        build(head=dict(type='LinearClsHead', num_classes=1, in_channels=512))
