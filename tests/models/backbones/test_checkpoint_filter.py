"""Official Context-Cluster checkpoint layouts load through ``checkpoint_filter_fn``."""
import argparse

import pytest
import torch
import torch.nn as nn

from mmcoc.models import ContextCluster, ContextClusterClassifier, checkpoint_filter_fn
from mmcoc.testing import official_classification, official_dense, perturbed
from mmcoc.utils import load_weights


@pytest.mark.parametrize('generation', [1, 3])
def test_official_classification_release_loads_exactly(tmp_path, generation):
    torch.manual_seed(0)
    source = perturbed(ContextClusterClassifier('tiny', num_classes=7)).eval()
    path = tmp_path / 'coc_tiny.pth.tar'
    # as timm's training script saves it: args Namespace beside the weights
    torch.save(dict(epoch=300, arch='coc_tiny', args=argparse.Namespace(lr=1e-3, model='coc_tiny'),
                    state_dict=official_classification(source, generation)), path)
    target = ContextClusterClassifier('tiny', num_classes=7,
                                      init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    target.init_weights()
    target.eval()
    x = torch.randn(2, 3, 64, 64)
    assert torch.equal(source(x), target(x))


def test_official_dense_release_loads_into_backbone(tmp_path):
    torch.manual_seed(0)
    source = perturbed(ContextCluster('small', proposals=5, out_indices=(0, 1, 2, 3))).eval()
    path = tmp_path / 'mask_rcnn_coc_small_5.pth'
    dense = nn.Module()
    dense.backbone = source
    checkpoint = official_dense(dense)
    checkpoint['state_dict']['neck.lateral_convs.0.conv.weight'] = torch.zeros(256, 64, 1, 1)
    torch.save(checkpoint, path)
    target = ContextCluster('small', proposals=5, out_indices=(0, 1, 2, 3),
                            init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    target.init_weights()
    target.eval()
    x = torch.randn(1, 3, 64, 64)
    for a, b in zip(source(x), target(x)):
        assert torch.equal(a, b)


def test_classification_weights_start_a_dense_backbone(tmp_path):
    torch.manual_seed(0)
    source = perturbed(ContextClusterClassifier('tiny'))
    path = tmp_path / 'cls.pth.tar'
    torch.save(dict(state_dict=official_classification(source, 3)), path)
    target = ContextCluster('tiny', out_indices=(0, 1, 2, 3))
    report = load_weights(target, str(path), checkpoint_filter_fn)
    # stage norms of dense use are new, the classification head is not used: both reported
    assert report['missing_keys'] == ['norm0.weight', 'norm0.bias', 'norm2.weight', 'norm2.bias',
                                      'norm4.weight', 'norm4.bias']
    assert report['unexpected_keys'] == ['head.weight', 'head.bias']
    assert torch.equal(target.norm6.weight, source.norm6.weight)
    assert torch.equal(target.network[6][1].token_mixer.f.weight,
                       source.network[6][1].token_mixer.f.weight)


def test_mmpretrain_layout_maps_backbone_and_head():
    model = ContextClusterClassifier('tiny', num_classes=3)
    state = {'backbone.' + k: v for k, v in model.state_dict().items() if not k.startswith('head')}
    state['head.fc.weight'] = model.head.weight
    state['head.fc.bias'] = model.head.bias
    state['neck.unused'] = torch.zeros(1)
    assert set(checkpoint_filter_fn(dict(state_dict=state), model)) == set(model.state_dict())


def test_shape_mismatch_names_the_key_and_both_shapes(tmp_path):
    path = tmp_path / 'tiny.pth'
    torch.save(ContextCluster('tiny').state_dict(), path)
    model = ContextCluster('small', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(ValueError, match=r"'patch_embed.proj.weight' has shape \(32, 5, 4, 4\) "
                                         r'in the checkpoint but \(64, 5, 4, 4\) in the model'):
        model.init_weights()


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    import torchvision
    path = tmp_path / 'resnet.pth'
    torch.save(torchvision.models.resnet18().state_dict(), path)
    model = ContextCluster('tiny', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(ValueError, match='no key of checkpoint .* matches ContextCluster'):
        model.init_weights()


def test_prefix_from_init_cfg(tmp_path):
    torch.manual_seed(0)
    source = perturbed(ContextCluster('tiny'))
    path = tmp_path / 'det.pth'
    torch.save({'model.backbone.' + k: v for k, v in source.state_dict().items()}, path)
    target = ContextCluster('tiny', init_cfg=dict(type='Pretrained', checkpoint=str(path),
                                                  prefix='model.backbone.'))
    target.init_weights()
    assert torch.equal(target.patch_embed.proj.weight, source.patch_embed.proj.weight)


def test_pretrained_argument_as_mmseg_passes_it(tmp_path):
    path = tmp_path / 'w.pth'
    torch.save(ContextCluster('tiny').state_dict(), path)
    model = ContextCluster('tiny', pretrained=str(path))
    assert model.init_cfg == dict(type='Pretrained', checkpoint=str(path))
    with pytest.raises(ValueError, match='not both'):
        ContextCluster('tiny', pretrained=str(path), init_cfg=dict(type='Pretrained',
                                                                   checkpoint=str(path)))
