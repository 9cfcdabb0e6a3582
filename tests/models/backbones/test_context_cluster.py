import pytest
import torch
import torch.nn as nn

from mmcoc.models import ContextCluster

ARCHS = ['tiny', 'tiny_plain', 'small', 'medium', 'base_dim64', 'base_dim96']
DIMS = {'tiny': [32, 64, 196, 320], 'tiny_plain': [32, 64, 196, 320],
        'small': [64, 128, 320, 512], 'medium': [64, 128, 320, 512],
        'base_dim64': [64, 128, 320, 512], 'base_dim96': [96, 192, 384, 768]}


@pytest.mark.parametrize('arch', ARCHS)
def test_dense_outputs_of_every_arch(arch):
    model = ContextCluster(arch, out_indices=(0, 1, 2, 3)).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 64, 96))
    assert isinstance(outs, tuple)
    assert [tuple(o.shape) for o in outs] == [
        (1, DIMS[arch][i], 16 // 2**i, 24 // 2**i) for i in range(4)]


@pytest.mark.parametrize('out_indices,stages', [(-1, [3]), ((0, 2), [0, 2]), ((1, -1), [1, 3]),
                                                (2, [2])])
def test_out_indices_select_stages_and_build_only_their_norms(out_indices, stages):
    model = ContextCluster('tiny', out_indices=out_indices)
    outs = model(torch.randn(2, 3, 32, 32))
    assert [o.shape[1] for o in outs] == [DIMS['tiny'][s] for s in stages]
    norms = sorted(n for n, _ in model.named_children() if n.startswith('norm'))
    assert norms == [f'norm{s}' for s in stages]


def test_outputs_are_normed_maps():
    model = ContextCluster('tiny', out_indices=(0, 1, 2, 3))
    for out in model(torch.randn(1, 3, 64, 64)):
        # GroupNorm with one group and its initial affine: zero mean, unit variance per sample
        # (up to its eps of 1e-5, felt by small pre-norm variances)
        assert out.mean().abs() < 1e-4 and (out.var(unbiased=False) - 1).abs() < 1e-2


@pytest.mark.parametrize('size', [(31, 47), (4, 4), (97, 131), (224, 225)])
def test_any_input_size(size):
    model = ContextCluster('small', proposals=5, out_indices=(0, 1, 2, 3))
    outs = model(torch.randn(1, 3, *size))
    h, w = size[0] // 4, size[1] // 4
    for out in outs:
        assert out.shape[2:] == (h, w) and torch.isfinite(out).all()
        h, w = (h + 1) // 2, (w + 1) // 2


def test_position_channels_match_the_reference():
    x = torch.zeros(1, 3, 5, 9)
    pos = ContextCluster.position_channels(x)
    assert pos.shape == (1, 2, 5, 9)
    assert torch.allclose(pos[0, 0, :, 0], torch.arange(5) / 4 - 0.5)  # row / (H - 1) - 0.5
    assert torch.allclose(pos[0, 1, 0, :], torch.arange(9) / 8 - 0.5)  # col / (W - 1) - 0.5
    assert pos[0, 0].min() == -0.5 and pos[0, 1].max() == 0.5


def test_arch_settings_as_published():
    tiny = ContextCluster.resolve_arch('tiny')
    assert tiny['folds'] == [8, 4, 2, 1] and tiny['proposals'] == [2] * 4
    assert tiny['head_dim'] == [24] * 4 and tiny['mlp_ratios'] == [8, 8, 4, 4]
    plain = ContextCluster.resolve_arch('tiny_plain')
    assert plain['proposals'] == [4, 4, 2, 2] and plain['folds'] == [1] * 4
    model = ContextCluster('small', proposals=7, folds=[2, 2, 1, 1])
    mixers = [m for m in model.modules() if hasattr(m, 'proposals')]
    assert {m.proposals for m in mixers} == {7}
    assert [m.folds for m in mixers] == [2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1]
    assert [m.heads for m in mixers] == [4, 4, 4, 4, 8, 8, 8, 8, 8, 8, 8, 8]


def test_point_reducers_and_drop_path_schedule():
    model = ContextCluster('small', drop_path_rate=0.3, layer_scale_init_value=1e-6)
    assert model.patch_embed.proj.in_channels == 5
    assert model.patch_embed.proj.kernel_size == (4, 4) and model.patch_embed.proj.stride == (4, 4)
    assert model.stages[0].downsample is None
    for stage in model.stages[1:]:
        conv = stage.downsample.proj
        assert (conv.kernel_size, conv.stride, conv.padding) == ((3, 3), (2, 2), (1, 1))
    rates = [b.drop_path.drop_prob if hasattr(b.drop_path, 'drop_prob') else 0.0
             for stage in model.stages for b in stage.blocks]
    assert rates == pytest.approx([0.3 * k / 11 for k in range(12)])
    block = model.stages[0].blocks[0]
    assert torch.all(block.layer_scale_1 == 1e-6) and isinstance(block.norm1, nn.GroupNorm)
    assert block.norm1.num_groups == 1 and block.mlp.fc1.out_features == 64 * 8


def test_frozen_stages_stop_gradients_and_stay_in_eval():
    model = ContextCluster('tiny', out_indices=(0, 1, 2, 3), frozen_stages=2, drop_rate=0.1)
    model.train()
    frozen = [model.patch_embed, model.stages[0], model.stages[1], model.norm0, model.norm1]
    for module in frozen:
        assert not module.training
        assert all(not p.requires_grad for p in module.parameters())
    assert all(p.requires_grad for p in model.stages[2].downsample.parameters())
    assert model.stages[2].blocks.training and model.norm2.training


def test_norm_eval_keeps_batch_norm_statistics():
    model = ContextCluster('tiny', norm_cfg=dict(type='BN'), norm_eval=True)
    model.train()
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(not bn.training for bn in bns)
    before = bns[0].running_mean.clone()
    model(torch.randn(2, 3, 32, 32))
    assert torch.equal(before, bns[0].running_mean)


def test_cluster_normalizer_reaches_every_mixer():
    model = ContextCluster('tiny', cluster_normalizer='count')
    assert {m.normalizer for m in model.modules() if hasattr(m, 'normalizer')} == {'count'}


@pytest.mark.parametrize('kwargs,error,message', [
    (dict(arch='huge'), KeyError, 'known archs: tiny, tiny_plain, small, medium'),
    (dict(arch=dict(layers=[1, 1, 1, 1])), KeyError, 'missing keys'),
    (dict(arch='tiny', folds=[8, 4, 2]), ValueError, 'one value per stage'),
    (dict(arch='tiny', proposals=0), ValueError, 'positive ints'),
    (dict(arch='tiny', out_indices=(4,)), ValueError, 'out_indices'),
    (dict(arch='tiny', frozen_stages=5), ValueError, 'frozen_stages'),
])
def test_bad_settings_are_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        ContextCluster(**kwargs)


@pytest.mark.parametrize('shape,message', [
    ((1, 5, 32, 32), r'\[N, 3, H, W\].*got \[1, 5, 32, 32\]'),
    ((1, 1, 32, 32), 'gray or RGBA'),
    ((3, 32, 32), r'got \[3, 32, 32\]'),
    ((1, 3, 3, 64), 'at least 4x4'),
])
def test_bad_inputs_are_named(shape, message):
    model = ContextCluster('tiny')
    with pytest.raises(ValueError, match=message):
        model(torch.randn(shape))


def test_custom_arch_dict():
    arch = dict(layers=[1, 1, 1, 1], embed_dims=[8, 16, 24, 32], heads=2, head_dim=4,
                proposals=3, folds=[2, 1, 1, 1])
    model = ContextCluster(arch, out_indices=(0, 1, 2, 3))
    assert [o.shape[1] for o in model(torch.randn(1, 3, 32, 32))] == [8, 16, 24, 32]


def test_bf16_autocast_forward_and_backward_are_finite():
    model = ContextCluster('tiny', proposals=5, out_indices=(0, 1, 2, 3))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        outs = model(torch.randn(1, 3, 67, 93))
        loss = sum(o.float().square().mean() for o in outs)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize('arch,normalizer,size', [('small', 'similarity', (64, 96)),
                                                   ('tiny_plain', 'count', (64, 64))])
def test_backbone_equals_the_official_formulation(arch, normalizer, size, monkeypatch):
    # the whole backbone against the official computation (channels-first convs, the
    # [groups, centers, points, dim] clustering), one set of weights, float64: outputs, the
    # input's gradient and every weight's, with the point MLP recomputed in backward
    from mmcoc.models.layers import mlp
    from mmcoc.testing import OfficialContextCluster, network_layout, network_layout_key
    monkeypatch.setattr(mlp, 'RECOMPUTE_BYTES', 0)
    torch.manual_seed(0)
    model = ContextCluster(arch, out_indices=(0, 1, 2, 3), cluster_normalizer=normalizer,
                           layer_scale_init_value=0.5).double()
    official = OfficialContextCluster(model.arch, normalizer).double()
    assert official.load_state_dict(network_layout(model.state_dict())).missing_keys == []
    grads = []
    for net, official_name in ((model, network_layout_key), (official, str)):
        x = torch.randn(2, 3, *size, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(1), requires_grad=True)
        outs = net(x)
        sum((o * torch.linspace(-1, 1, o.numel(), dtype=o.dtype).view_as(o)).sum()
            for o in outs).backward()
        grads.append([o.detach() for o in outs] + [x.grad] +
                     [p.grad for _, p in sorted(net.named_parameters(),
                                                key=lambda item: official_name(item[0]))])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)
