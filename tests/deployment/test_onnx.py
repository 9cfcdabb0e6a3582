"""ONNX export of the three backbones (tiny variants) through standard operators, checked by
onnx.checker and run by onnxruntime against PyTorch; the CLI's refusals."""
import json
import sys
from pathlib import Path

import pytest
import torch

from tests.tools.tool_runner import run

from .tiny_models import tiny_backbone

onnx = pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')
pytest.importorskip('onnxscript')

from mmcoc.deployment import onnx as deploy  # noqa: E402

pytestmark = pytest.mark.slow  # subprocesses, exports, compiles or docs: make test-fast skips

# 75x101: the 19x25 map of the first stage does not divide into its 2x2 regions (padded path)
TRACED = (2, 3, 75, 101)
# other batches and sizes than the traced one: one dividing into the folds at every stage
SIZES = [(1, 3, 64, 64), (3, 3, 96, 128), (1, 3, 75, 101)]


@pytest.mark.parametrize('name', ['coc', 'fec', 'secvit'])
def test_backbone_exports_with_dynamic_size_and_matches_pytorch(name, tmp_path):
    module = deploy.BackboneOutputs(tiny_backbone(name)).eval()
    path = str(tmp_path / f'{name}.onnx')
    deploy.export(module, torch.randn(TRACED), path)  # runs onnx.checker
    assert deploy.custom_domains(path) == []
    ops = deploy.operators(path)
    assert 'ArgMax' in ops or 'TopK' in ops, ops  # the clustering ran through standard ops
    rows = deploy.compare(module, path, SIZES)
    assert all(row['max_abs_diff'] < 1e-4 for row in rows), rows


def test_segmentor_labels_through_the_cli(tmp_path):
    report = tmp_path / 'report.json'
    run([sys.executable, 'tools/deployment/pytorch2onnx.py',
         str(Path(__file__).with_name('one_block_fpn.py')), 'random', str(tmp_path / 'fpn.onnx'),
         '--output', 'labels', '--shape', '75', '101',
         '--json', str(report)])
    result = json.loads(report.read_text())
    shapes = [tuple(row['shape']) for row in result['compare']]
    assert len(set(shapes)) == 3 and any(s[2] % 32 or s[3] % 32 for s in shapes), shapes
    assert all(row['label_mismatch'] <= 1e-3 for row in result['compare']), result['compare']


def test_static_size_export_keeps_the_traced_size(tmp_path):
    module = deploy.BackboneOutputs(tiny_backbone('coc')).eval()
    path = str(tmp_path / 'coc.onnx')
    deploy.export(module, torch.randn(TRACED), path, dynamic_hw=False)
    shape = deploy.session(path).get_inputs()[0].shape
    assert shape[2:] == [75, 101] and not isinstance(shape[0], int), shape


def test_dynamic_size_needs_a_big_enough_trace():
    module = deploy.BackboneOutputs(tiny_backbone('coc')).eval()
    with pytest.raises(ValueError, match='64x64 or more'):
        deploy.export(module, torch.randn(1, 3, 32, 64), 'unused.onnx')


def test_detector_export_is_out_of_scope():
    with pytest.raises(ValueError, match='out of scope'):
        deploy.wrap(torch.nn.Module(), 'detection', 'logits')


@pytest.mark.parametrize('scale', [2, 1.5])
def test_symbolic_upsample_equals_mmsegs(scale):
    from mmseg.models.utils import Upsample
    upsample = Upsample(scale_factor=scale, mode='bilinear', align_corners=False)
    for shape in [(1, 2, 7, 9), (2, 2, 16, 5)]:
        x = torch.randn(shape)
        torch.testing.assert_close(deploy.SymbolicUpsample(upsample)(x), upsample(x))


def test_tolerance_allows_only_what_pytorch_itself_does_under_noise():
    row = dict(max_abs_diff=5e-5, label_mismatch=0.0, noise_diff=0.0, noise_mismatch=0.0)
    assert deploy.within_tolerance(row)
    assert not deploy.within_tolerance(dict(row, max_abs_diff=0.3))  # stable input: export's
    assert deploy.within_tolerance(dict(row, max_abs_diff=0.9, noise_diff=0.6))  # near ties
    assert not deploy.within_tolerance(dict(row, max_abs_diff=3.0, noise_diff=0.6))
    assert not deploy.within_tolerance(dict(row, max_abs_diff=0.3, noise_diff=5e-5))
    assert not deploy.within_tolerance(dict(row, label_mismatch=0.02, noise_mismatch=0.001))
    assert deploy.within_tolerance(dict(row, label_mismatch=0.02, noise_mismatch=0.01))


def test_group_norm_statistics_are_summed_an_axis_at_a_time():
    x = 3 * torch.randn(2, 16, 40, 37, dtype=torch.float64) + 1.5
    weight, bias = torch.randn(16, dtype=torch.float64), torch.randn(16, dtype=torch.float64)
    for groups in (1, 4):
        torch.testing.assert_close(deploy._group_norm_in_short_sums(x, groups, weight, bias),
                                   torch.nn.functional.group_norm(x, groups, weight, bias),
                                   rtol=0, atol=1e-12)


class _NormedMap(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 64, 1)
        self.norm = torch.nn.GroupNorm(1, 64)
        torch.nn.init.normal_(self.norm.weight)
        torch.nn.init.normal_(self.norm.bias)

    def forward(self, x):
        return self.norm(self.conv(x))


def test_exported_group_norm_stays_within_pytorchs_rounding(tmp_path):
    # GroupNorm(1) of a stage-0 sized map (560k values, off the mean): onnxruntime's
    # InstanceNormalization summed it in one float32 running sum, 1.7e-4 off float64
    torch.manual_seed(0)
    module = _NormedMap().eval()
    path = str(tmp_path / 'gn.onnx')
    deploy.export(module, 3 * torch.randn(2, 3, 128, 137) + 1.5, path)
    assert 'InstanceNormalization' not in deploy.operators(path)
    x = 3 * torch.randn(2, 3, 96, 150) + 1.5
    sess = deploy.session(path)
    out = torch.from_numpy(sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0])
    with torch.no_grad():
        exact = module.double()(x.double())
    assert (out.double() - exact).abs().max() < 2e-5
