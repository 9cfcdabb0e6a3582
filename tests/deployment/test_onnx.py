"""ONNX export of the three backbones (tiny variants) through standard operators, checked by
onnx.checker and run by onnxruntime against PyTorch; the CLI's refusals."""
import pytest
import torch

from .tiny_models import tiny_backbone

onnx = pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')
pytest.importorskip('onnxscript')

from mmcoc.deployment import onnx as deploy  # noqa: E402

# 75x101: the 19x25 map of the first stage does not divide into its 2x2 regions (padded path)
TRACED = (2, 3, 75, 101)


@pytest.mark.parametrize('name', ['coc', 'fec', 'secvit'])
def test_backbone_exports_and_matches_pytorch(name, tmp_path):
    module = deploy.BackboneOutputs(tiny_backbone(name)).eval()
    path = str(tmp_path / f'{name}.onnx')
    deploy.export(module, torch.randn(TRACED), path)  # runs onnx.checker
    assert deploy.custom_domains(path) == []
    ops = deploy.operators(path)
    assert 'ArgMax' in ops or 'TopK' in ops, ops  # the clustering ran through standard ops
    rows = deploy.compare(module, path, [(1, 3, 75, 101), (3, 3, 75, 101)])
    assert all(row['max_abs_diff'] < 1e-4 for row in rows), rows


@pytest.mark.xfail(reason='the clustering layers branch on H % folds in Python: a dynamic '
                   'height/width needs the always-pad-when-exporting change in '
                   'mmcoc/models/layers (docs/deploy.md)', strict=True, run=False)
def test_dynamic_height_width_export(tmp_path):
    module = deploy.BackboneOutputs(tiny_backbone('coc')).eval()
    path = str(tmp_path / 'coc.onnx')
    deploy.export(module, torch.randn(2, 3, 64, 64), path, dynamic_hw=True)
    rows = deploy.compare(module, path, [(1, 3, 64, 64), (2, 3, 96, 128), (3, 3, 75, 101)])
    assert all(row['max_abs_diff'] < 1e-4 for row in rows), rows


def test_detector_export_is_out_of_scope():
    with pytest.raises(ValueError, match='out of scope'):
        deploy.wrap(torch.nn.Module(), 'detection', 'logits')
