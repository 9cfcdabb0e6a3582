"""mmcoc.StableResizeFPNHead: mmseg's FPNHead with its scale heads resized at exact weights."""
import torch
from mmseg.models.decode_heads import FPNHead

from mmcoc.models import StableResizeFPNHead
from mmcoc.utils.config import load_config
from tests.helpers import ROOT


def _heads():
    kwargs = dict(in_channels=[8, 8, 8, 8], in_index=[0, 1, 2, 3], feature_strides=[4, 8, 16, 32],
                  channels=8, dropout_ratio=0.1, num_classes=5, align_corners=False)
    torch.manual_seed(0)
    ours = StableResizeFPNHead(**kwargs).eval()
    theirs = FPNHead(**kwargs).eval()
    theirs.load_state_dict(ours.state_dict())  # the same weights, the same names
    return ours, theirs


def test_same_weights_and_outputs_as_mmsegs_head_in_float64():
    ours, theirs = _heads()
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    # the stride-4 map of a 491x549 input: the stride-8 head's map is 122x138 against 122x137
    sizes = [(123, 138), (62, 69), (31, 35), (16, 18)]
    inputs = [torch.randn(1, 8, *s, dtype=torch.float64) for s in sizes]
    with torch.no_grad():
        out = ours.double()(inputs)
        ref = theirs.double()(inputs)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-10)


def test_every_semantic_fpn_config_uses_it():
    configs = sorted(ROOT.glob('configs/*/*_fpn_*.py'))
    assert len(configs) >= 12  # CoC small/medium x 4/25/49 centers, FEC x 3, SecViT x 2, demo
    for config in configs:
        head = load_config(str(config)).model.decode_head
        assert head.type == 'mmcoc.StableResizeFPNHead', config
