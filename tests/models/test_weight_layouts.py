"""convert_checkpoint: the layouts, their report, and exact round trips."""
import argparse

import pytest
import timm
import torch

from mmcoc.models import ContextClusterClassifier, convert_checkpoint
from mmcoc.testing import official_classification, perturbed


def test_timm_layout_round_trips_exactly(tmp_path):
    torch.manual_seed(0)
    source = perturbed(ContextClusterClassifier('tiny', cluster_normalizer='count')).eval()
    official = dict(args=argparse.Namespace(model='coc_tiny'),
                    state_dict=official_classification(source, generation=1))
    state_dict, report = convert_checkpoint(official, 'timm')
    assert report.layout == 'timm' and not report.dropped
    torch.save(state_dict, tmp_path / 'timm.pth')
    model = timm.create_model('coc_tiny', pretrained=True, cluster_normalizer='count',
                              pretrained_cfg_overlay=dict(file=str(tmp_path / 'timm.pth'))).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), source(x))


def test_backbone_layout_drops_the_head_and_unknown_layouts_are_named():
    source = ContextClusterClassifier('tiny', num_classes=3)
    state_dict, report = convert_checkpoint(official_classification(source), 'backbone')
    assert set(state_dict) == {k for k in source.state_dict() if not k.startswith('head.')}
    assert report.dropped == ['head.weight', 'head.bias']
    with pytest.raises(ValueError, match='unknown layout .*mmpretrain, whole, timm, backbone'):
        convert_checkpoint(state_dict, 'mmdet')
