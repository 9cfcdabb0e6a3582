"""Official Context-Cluster checkpoint layouts load through ``checkpoint_filter_fn``."""
import argparse
import warnings

import pytest
import torch
import torch.nn as nn

from mmcoc.models import ContextCluster, ContextClusterClassifier, checkpoint_filter_fn
from mmcoc.models.timm_models import FECClassifier
from mmcoc.models.weight_layouts.context_cluster import (
    NormalizerMismatchWarning,
    trained_normalizer,
)
from mmcoc.testing import official_classification, official_dense, perturbed
from mmcoc.utils import load_weights

# the normaliser each official generation was trained with
TRAINED_WITH = {1: 'count', 3: 'similarity'}


@pytest.mark.parametrize('generation', [1, 3])
def test_official_classification_release_loads_exactly(tmp_path, generation):
    torch.manual_seed(0)
    normalizer = TRAINED_WITH[generation]
    source = perturbed(ContextClusterClassifier('tiny', num_classes=7,
                                                cluster_normalizer=normalizer)).eval()
    path = tmp_path / 'coc_tiny.pth.tar'
    # as timm's training script saves it: args Namespace beside the weights
    torch.save(dict(epoch=300, arch='coc_tiny', args=argparse.Namespace(lr=1e-3, model='coc_tiny'),
                    state_dict=official_classification(source, generation)), path)
    target = ContextClusterClassifier('tiny', num_classes=7, cluster_normalizer=normalizer,
                                      init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with warnings.catch_warnings():
        warnings.simplefilter('error', NormalizerMismatchWarning)  # the settings agree
        target.init_weights()
    target.eval()
    x = torch.randn(2, 3, 64, 64)
    assert torch.equal(source(x), target(x))


def test_official_dense_release_loads_into_backbone(tmp_path):
    torch.manual_seed(0)
    source = perturbed(ContextCluster('small', proposals=5, out_indices=(0, 1, 2, 3),
                                      cluster_normalizer='count')).eval()
    path = tmp_path / 'mask_rcnn_coc_small_5.pth'
    dense = nn.Module()
    dense.backbone = source
    checkpoint = official_dense(dense)
    checkpoint['state_dict']['neck.lateral_convs.0.conv.weight'] = torch.zeros(256, 64, 1, 1)
    torch.save(checkpoint, path)
    target = ContextCluster('small', proposals=5, out_indices=(0, 1, 2, 3),
                            cluster_normalizer='count',
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
    assert report['missing_keys'] == ['norm0.weight', 'norm0.bias', 'norm1.weight', 'norm1.bias',
                                      'norm2.weight', 'norm2.bias']
    assert report['unexpected_keys'] == ['head.weight', 'head.bias']
    assert torch.equal(target.norm3.weight, source.norm3.weight)
    assert torch.equal(target.stages[3].blocks[1].token_mixer.f.weight,
                       source.stages[3].blocks[1].token_mixer.f.weight)


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


def _releases():
    """Each official generation's layout, from one CoC-tiny: name -> (checkpoint, normaliser)."""
    torch.manual_seed(0)
    classifier = ContextClusterClassifier('tiny', num_classes=3)
    dense = nn.Module()
    dense.backbone = ContextCluster('tiny', out_indices=(0, 1, 2, 3))
    return {
        '2023-03 classification (fc1/fc2/fc_v, conv MLPs)':
            (dict(state_dict=official_classification(classifier, 1)), 'count'),
        '2023-03 Mask R-CNN / Semantic FPN (conv MLPs)': (official_dense(dense), 'count'),
        '2024 classification (f/v/proj, Linear MLPs)':
            (dict(state_dict=official_classification(classifier, 3)), 'similarity'),
    }


@pytest.mark.parametrize('release', sorted(_releases()))
def test_each_generation_tells_its_normaliser_and_a_mismatch_warns(release):
    checkpoint, trained = _releases()[release]
    assert trained_normalizer(checkpoint)[0] == trained
    other = {'count': 'similarity', 'similarity': 'count'}[trained]
    dense = 'backbone.patch_embed.proj.weight' in checkpoint['state_dict']
    model_type = ContextCluster if dense else ContextClusterClassifier
    kwargs = dict(out_indices=(0, 1, 2, 3)) if dense else dict(num_classes=3)
    with warnings.catch_warnings():
        warnings.simplefilter('error', NormalizerMismatchWarning)
        checkpoint_filter_fn(checkpoint, model_type('tiny', cluster_normalizer=trained, **kwargs))
    with pytest.warns(NormalizerMismatchWarning) as record:
        checkpoint_filter_fn(checkpoint, model_type('tiny', cluster_normalizer=other, **kwargs))
    message = str(record[0].message)
    assert '\n' not in message
    assert f"trained with cluster_normalizer='{trained}'" in message
    assert f'--cfg-options model.backbone.cluster_normalizer={trained}' in message


def test_checkpoints_that_do_not_tell_load_silently():
    torch.manual_seed(0)
    mmcoc_weights = ContextClusterClassifier('tiny', num_classes=3).state_dict()  # norm3
    fec_release = official_classification(FECClassifier('small', num_classes=3))
    for checkpoint in (mmcoc_weights, fec_release):
        assert trained_normalizer(checkpoint) == (None, '')
    with warnings.catch_warnings():
        warnings.simplefilter('error', NormalizerMismatchWarning)
        for normalizer in ('count', 'similarity'):
            checkpoint_filter_fn(mmcoc_weights, ContextClusterClassifier(
                'tiny', num_classes=3, cluster_normalizer=normalizer))
        checkpoint_filter_fn(fec_release, FECClassifier('small', num_classes=3))
    # what the converter recorded in the meta speaks for a converted file
    converted = dict(meta=dict(cluster_normalizer='count'), state_dict=mmcoc_weights)
    assert trained_normalizer(converted)[0] == 'count'
    with pytest.warns(NormalizerMismatchWarning, match="trained with cluster_normalizer='count'"):
        checkpoint_filter_fn(converted, ContextClusterClassifier('tiny', num_classes=3))


def test_timm_warns_when_loading_a_release_with_the_other_normaliser(tmp_path):
    import timm
    torch.manual_seed(0)
    source = perturbed(ContextClusterClassifier('tiny', cluster_normalizer='count')).eval()
    path = tmp_path / 'coc_tiny_2023.pth.tar'
    torch.save(dict(state_dict=official_classification(source, 1)), path)
    with pytest.warns(NormalizerMismatchWarning, match="build it with cluster_normalizer='count'"):
        timm.create_model('coc_tiny', pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
    model = timm.create_model('coc_tiny', pretrained=True, cluster_normalizer='count',
                              pretrained_cfg_overlay=dict(file=str(path))).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), source(x))
