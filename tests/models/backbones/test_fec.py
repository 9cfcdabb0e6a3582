"""The FEC backbone: published settings and sizes, any input size, training state, weights."""
import math

import pytest
import timm
import torch
import torch.nn as nn
from mmengine.registry import DefaultScope

import mmcoc
from mmcoc.models import FEC, ContextCluster
from mmcoc.models.layers import ClusterPool, ContextClusterMixer
from mmcoc.testing import official_classification, perturbed

# parameter counts of the reference implementation with a 1000-class head
PARAMS = {'fec_small': 5_727_528, 'fec_base': 15_086_848, 'fec_large': 29_720_344}


@pytest.mark.parametrize('name', sorted(PARAMS))
def test_parameter_counts_through_timm(name):
    model = timm.create_model(name)
    assert isinstance(model, FEC)
    # the reference's conv_f are parameters; here buffers of the same size (frozen as released)
    frozen = sum(b.numel() for n, b in model.named_buffers() if '.conv_f.' in n)
    assert frozen > 0
    assert sum(p.numel() for p in model.parameters()) + frozen == PARAMS[name]


def test_arch_settings_as_published():
    model = FEC('small', out_indices=(0, 1, 2, 3))
    assert model.arch == dict(layers=[3, 4, 5, 2], embed_dims=[32, 64, 196, 320],
                              heads=[4, 4, 8, 8], head_dim=[24] * 4, mlp_ratios=[8, 8, 4, 4],
                              proposals=[4, 4, 2, 2], folds=[1] * 4)
    assert FEC.arch_settings['base']['layers'] == [2, 2, 6, 2]
    assert FEC.arch_settings['large']['heads'] == [6, 6, 12, 12]
    mixers = [m for m in model.modules() if isinstance(m, ContextClusterMixer)]
    assert len(mixers) == 14
    assert {(m.normalizer, m.weighting) for m in mixers} == {('count', 'plain')}
    assert [m.proposals for m in mixers] == [4] * 7 + [2] * 7
    for stage in (1, 2, 3):
        pool = model.stages[stage].downsample
        assert isinstance(pool, ClusterPool)
        assert pool.conv_v.in_channels == model.embed_dims[stage - 1]
        assert pool.conv_skip.out_channels == model.embed_dims[stage]
        assert isinstance(pool.norm2, nn.GroupNorm) and pool.norm2.num_groups == 1


def test_detection_folds_reach_the_cluster_pools_of_the_next_stage():
    model = FEC('small', proposals=7, folds=[2, 2, 1, 1])
    assert [model.stages[s].downsample.folds for s in (1, 2, 3)] == [2, 1, 1]
    assert [m.folds for m in model.stages[1].modules()
            if isinstance(m, ContextClusterMixer)] == [2] * 4


@pytest.mark.parametrize('proposals,folds', [([10, 10, 5, 5], 1), (7, [2, 2, 1, 1])])
def test_any_input_size_and_every_trainable_parameter_gets_a_gradient(proposals, folds):
    # an odd-sized image: odd maps in every stage, partly padded regions and ClusterPools
    model = FEC('small', proposals=proposals, folds=folds, out_indices=(0, 1, 2, 3))
    x = torch.randn(1, 3, 75, 45)
    outs = model(x)
    sides = [(18, 11), (9, 6), (5, 3), (3, 2)]
    assert [tuple(o.shape[2:]) for o in outs] == sides
    assert [o.shape[1] for o in outs] == [32, 64, 196, 320]
    sum(o.square().mean() for o in outs).backward()
    # what DDP without find_unused_parameters needs: no trainable parameter left unused
    unused = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert unused == []
    # the frozen similarity projections are buffers (timm: every parameter gets a gradient)
    assert [n for n, p in model.named_parameters() if p.grad is None] == []
    similarity = [n for n, _ in model.named_buffers() if '.conv_f.' in n]
    assert len(similarity) == 6
    assert all(not b.requires_grad for n, b in model.named_buffers() if n in similarity)


def test_frozen_stages_cover_the_cluster_pools_and_keep_conv_f_frozen():
    model = FEC('small', out_indices=(0, 1, 2, 3), frozen_stages=2)
    model.train()
    for module in (model.patch_embed, model.stages[0], model.stages[1], model.norm0,
                   model.norm1):
        assert not module.training and all(not p.requires_grad for p in module.parameters())
    trainable = {n for n, p in model.stages[2].downsample.named_parameters() if p.requires_grad}
    assert trainable == {'conv_v.weight', 'conv_v.bias', 'conv_skip.weight', 'conv_skip.bias',
                         'norm2.weight', 'norm2.bias'}
    assert model.stages[2].downsample.training


def test_every_clustering_layer_keeps_its_assignment():
    model = FEC('small', out_indices=(0, 1, 2, 3)).eval()
    layers = [m for m in model.modules() if getattr(m, 'keep_assignment', None) is not None]
    assert len(layers) == 14 + 3
    for layer in layers:
        layer.keep_assignment = True
    with torch.no_grad():
        model(torch.randn(2, 3, 70, 54))
    stage_sides = [(17, 13), (9, 7), (5, 4), (3, 2)]
    for stage, side in enumerate(stage_sides):
        for block in model.stages[stage].blocks:
            mixer = block.token_mixer
            assignment = mixer.last_assignment
            assert assignment.shape == (2, mixer.heads, *side) and assignment.dtype == torch.long
            assert assignment.max() < mixer.proposals ** 2
        if stage:
            pool = model.stages[stage].downsample
            previous = stage_sides[stage - 1]
            assert pool.last_assignment.shape == (2, 1, *previous)
            assert pool.last_assignment.max() < math.ceil(previous[0] / 2) * math.ceil(
                previous[1] / 2)


def _official_fec_classification(model):
    """An FEC classifier's weights under the released code's names (``norm``, ``head``)."""
    state = official_classification(model)
    assert 'norm.weight' in state and 'norm6.weight' not in state
    assert {'network.1.conv_f.weight', 'network.3.conv_v.bias', 'network.5.conv_skip.weight',
            'network.5.norm2.weight', 'network.2.0.token_mixer.sim_alpha'} <= set(state)
    return state


def test_official_classification_weights_load_through_timm(tmp_path):
    torch.manual_seed(0)
    source = perturbed(timm.create_model('fec_small', num_classes=5)).eval()
    path = tmp_path / 'fec_small.pth.tar'
    torch.save(dict(epoch=299, state_dict=_official_fec_classification(source)), path)
    model = timm.create_model('fec_small', pretrained=True, num_classes=5,
                              pretrained_cfg_overlay=dict(file=str(path), num_classes=5)).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(source(x), model(x))


def test_official_dense_weights_load_into_the_backbone(tmp_path):
    torch.manual_seed(0)
    source = perturbed(FEC('small', proposals=7, folds=[2, 2, 1, 1],
                           out_indices=(0, 1, 2, 3))).eval()
    # as the released Mask R-CNN checkpoints store it: the whole detector, norms 0/2/4/6
    state = {'backbone.' + k: v.clone() for k, v in source.state_dict().items()}
    state['neck.lateral_convs.0.conv.weight'] = torch.zeros(256, 32, 1, 1)
    path = tmp_path / 'mask_rcnn_fec_small.pth'
    torch.save(dict(meta=dict(epoch=12), state_dict=state), path)
    target = FEC('small', proposals=7, folds=[2, 2, 1, 1], out_indices=(0, 1, 2, 3),
                 init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    target.init_weights()
    target.eval()
    x = torch.randn(1, 3, 65, 97)
    with torch.no_grad():
        for a, b in zip(source(x), target(x)):
            assert torch.equal(a, b)
    # the loaded similarity projections stay out of training
    assert not target.stages[1].downsample.conv_f.weight.requires_grad


def test_built_from_downstream_registries():
    assert mmcoc.MODELS.get('FEC') is FEC
    from mmdet.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(dict(type='mmcoc.FEC', arch='base', out_indices=(1, 3)))
    assert isinstance(model, FEC) and isinstance(model, ContextCluster)
    assert model.out_indices == (1, 3) and model.embed_dims == [64, 128, 320, 512]


def test_errors_name_fec():
    with pytest.raises(KeyError, match="Unknown FEC arch 'tiny'.*small, base, large"):
        FEC('tiny')
    with pytest.raises(ValueError, match=r'FEC expects images as a \[N, 3, H, W\]'):
        FEC('small')(torch.randn(1, 4, 32, 32))


def test_bf16_autocast_forward_and_backward_are_finite():
    model = FEC('small', out_indices=(0, 1, 2, 3))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        outs = model(torch.randn(1, 3, 67, 93))
        loss = sum(o.float().square().mean() for o in outs)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
