"""mmcoc.VGG: mmpretrain's VGG with a choice of input channels."""
import torch
from mmpretrain.models.backbones import VGG as MMPretrainVGG

from mmcoc.models.backbones import VGG


def test_two_channel_vgg_keeps_mmpretrain_layout():
    ours = VGG(11, in_channels=2, norm_cfg=dict(type='BN')).state_dict()
    theirs = MMPretrainVGG(11, norm_cfg=dict(type='BN')).state_dict()
    assert list(ours) == list(theirs)  # checkpoints keep their key names
    changed = [k for k in ours if ours[k].shape != theirs[k].shape]
    assert changed == ['features.0.conv.weight'] and ours[changed[0]].shape == (64, 2, 3, 3)


def test_two_channel_vgg_runs():
    model = VGG(11, in_channels=2, out_indices=(4, ))
    model.init_weights()
    assert model(torch.randn(1, 2, 32, 32))[0].shape == (1, 512, 1, 1)
