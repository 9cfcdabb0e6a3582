"""SecViT: the published sizes, the attention's math, any input size, weights in the official
layout."""
import functools
import math

import pytest
import timm
import torch
import torch.nn.functional as F

import mmcoc  # noqa: F401  (registers secvit_*)
from mmcoc.models import SecViT, SecViTClassifier
from mmcoc.models.layers import SECAttention, apply_rotary, equal_cluster_order, rotary_tables
from mmcoc.models.weight_layouts.secvit import checkpoint_filter_fn
from mmcoc.testing.naive_secvit import (
    naive_inverse_frequencies,
    naive_rotary_angles,
    naive_sec_attention,
)

# the official logs' n_parameters, 1000-class head
PARAMS = {'t': 14_981_800, 's': 26_776_104, 'b': 54_682_776, 'l': 96_495_096}
# a small arch with every feature (clusters, global stage, layer scale) for fast tests
TINY = dict(embed_dims=[16, 32, 32, 64], depths=[1, 1, 2, 1], num_heads=[2, 2, 4, 4],
            num_clusters=[4, 3, 2, 1], layer_scale=[False, False, True, True])


@pytest.mark.parametrize('arch', ['t', 's'])
def test_timm_models_have_the_published_parameter_counts(arch):
    model = timm.create_model(f'secvit_{arch}')
    assert sum(p.numel() for p in model.parameters()) == PARAMS[arch]
    assert model.default_cfg['first_conv'] == 'patch_embed.proj.0'


@pytest.mark.parametrize('arch', ['b', 'l'])
def test_large_variants_have_the_published_parameter_counts(arch):
    with torch.device('meta'):
        model = SecViTClassifier(arch=arch)
    assert sum(p.numel() for p in model.parameters()) == PARAMS[arch]
    assert [len(s.blocks) for s in model.layers] == [4, 8, 26, 8]
    assert model.layers[2].blocks[0].layer_scale and not model.layers[1].blocks[0].layer_scale


def test_arch_settings_are_the_papers():
    t = SecViT.resolve_arch('t')
    assert t['num_clusters'] == [32, 8, 2, 1] and t['mlp_ratio'] == [3] * 4
    assert [SecViT.resolve_arch(a)['drop_path_rate'] for a in 'tsbl'] == [0.1, 0.15, 0.4, 0.5]
    model = SecViT('t', out_indices=(0, 1, 2, 3))
    clusters = [{b.attn.num_clusters for b in s.blocks} for s in model.layers]
    assert clusters == [{32}, {8}, {2}, {1}]
    rates = [b.drop_path.drop_prob if hasattr(b.drop_path, 'drop_prob') else 0.
             for s in model.layers for b in s.blocks]
    assert rates[0] == 0 and rates[-1] == pytest.approx(0.1) and rates == sorted(rates)


@pytest.mark.parametrize('size', [(75, 61), (33, 17), (7, 5)])
def test_backbone_forward_backward_on_odd_sizes(size):
    torch.manual_seed(0)
    model = SecViT(TINY, out_indices=(0, 1, 2, 3))
    x = torch.randn(2, 3, *size)
    outs = model(x)
    h, w = size
    expected = []
    for _ in range(2):
        h, w = math.ceil(h / 2), math.ceil(w / 2)
    for dim in TINY['embed_dims']:
        expected.append((2, dim, h, w))
        h, w = math.ceil(h / 2), math.ceil(w / 2)
    assert [tuple(o.shape) for o in outs] == expected
    sum(o.pow(2).mean() for o in outs).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_published_model_runs_odd_sizes():
    model = timm.create_model('secvit_t', num_classes=3).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 97, 70)).shape == (1, 3)


def _naive_tables(height, width, head_dim):
    """cos and sin of the naive formulation's angles, in SECAttention's per-channel layout."""
    angles = naive_rotary_angles(height, width, head_dim).repeat_interleave(2, dim=-1)
    return angles.cos(), angles.sin()


def test_rotary_frequencies_are_the_releases():
    # 1 / 10000 ** linspace(0, 1, d / 4): the last pair of each half turns at 1e-4 rad per step
    for height, width, head_dim in ((7, 9, 8), (56, 56, 32), (5, 3, 4)):
        cos, sin = rotary_tables(height, width, head_dim, 'cpu', torch.float64)
        naive_cos, naive_sin = _naive_tables(height, width, head_dim)
        torch.testing.assert_close(cos, naive_cos, rtol=0, atol=1e-12)
        torch.testing.assert_close(sin, naive_sin, rtol=0, atol=1e-12)
    # float32 tables are the float64 ones rounded, whatever the position
    cos32, _ = rotary_tables(56, 56, 32, 'cpu', torch.float32)
    torch.testing.assert_close(cos32, _naive_tables(56, 56, 32)[0].float(), rtol=0, atol=1e-7)


@pytest.mark.parametrize('clusters', [1, 4])
def test_attention_ranks_the_rotated_keys(clusters):
    # the naive tables go to both, so this checks the attention alone: keys scaled and rotated,
    # then ranked against their (rotated) mean, then split into equal groups
    torch.manual_seed(0)
    attn = SECAttention(32, 4, clusters).double()
    x = torch.randn(2, 32, 6, 8, dtype=torch.float64)
    attn.keep_assignment = True
    out = attn(x, _naive_tables(6, 8, 8))
    torch.testing.assert_close(out, naive_sec_attention(attn, x), rtol=0, atol=1e-12)
    if clusters > 1:
        # position takes part: the same content at shifted positions groups otherwise
        unrotated = equal_cluster_order(attn.qkv(x)[:, 32:64].reshape(2, 4, 8, 48)
                                        .transpose(2, 3))
        groups = torch.empty_like(unrotated).scatter_(
            2, unrotated, (torch.arange(48) // 12).expand(2, 4, 48))
        assert not torch.equal(attn.last_assignment.flatten(2), groups)


def test_classifier_is_the_naive_formulation_end_to_end():
    torch.manual_seed(0)
    arch = dict(TINY, num_clusters=[4, 4, 2, 1])  # 64 px: 16x16, 8x8, 4x4, 2x2 maps divide
    model = SecViTClassifier(arch=arch, num_classes=5).double().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        fast = model(x)
        for m in model.modules():
            if isinstance(m, SECAttention):
                m.forward = functools.partial(lambda mod, x, rotary: naive_sec_attention(mod, x),
                                              m)
        torch.testing.assert_close(fast, model(x), rtol=0, atol=1e-10)


def test_rotary_logits_depend_on_relative_position_only():
    torch.manual_seed(0)
    cos, sin = rotary_tables(9, 9, 16, 'cpu', torch.float64)
    q, k = torch.randn(2, 16, dtype=torch.float64)

    def logit(p, r):  # token p's query against token r's key, positions as (row, col)
        i, j = p[0] * 9 + p[1], r[0] * 9 + r[1]
        return apply_rotary(q, cos[i], sin[i]) @ apply_rotary(k, cos[j], sin[j])

    assert logit((1, 2), (3, 5)) == pytest.approx(logit((4, 3), (6, 6)))  # same offset
    assert logit((1, 2), (3, 5)) != pytest.approx(logit((1, 2), (5, 3)))  # another offset
    # rotations keep norms
    torch.testing.assert_close(apply_rotary(q, cos[40], sin[40]).norm(), q.norm())


def test_keep_assignment_shows_the_equal_groups():
    torch.manual_seed(0)
    model = SecViT(TINY, out_indices=(0, 1, 2, 3))
    attns = [m for m in model.modules() if getattr(m, 'keep_assignment', None) is not None]
    assert len(attns) == sum(TINY['depths'])
    for m in attns:
        m.keep_assignment = True
    model(torch.randn(1, 3, 38, 45))  # stage maps 10x12, 5x6, 3x3, 2x2
    for m in attns:
        a = m.last_assignment
        B, E, H, W = a.shape
        assert (B, E) == (1, m.num_heads)
        L = math.ceil(H * W / m.num_clusters)
        for head in a[0]:
            sizes = torch.bincount(head.flatten(), minlength=m.num_clusters)
            assert sizes.max() <= L and sizes.sum() == H * W
            assert (sizes[:H * W // L] == L).all()  # every group full but the padded tail
    stage0 = attns[0].last_assignment
    assert stage0.shape == (1, 2, 10, 12) and stage0.unique().numel() == 4


def test_frozen_stages_and_norm_eval():
    model = SecViT(TINY, out_indices=(0, 1, 2, 3), frozen_stages=2, norm_eval=True).train()
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert any(n.startswith('patch_embed.') for n in frozen)
    assert any(n.startswith('layers.1.blocks.') for n in frozen)
    assert any(n.startswith('layers.0.downsample.') for n in frozen)  # into stage 1
    assert not any(n.startswith(('layers.2.', 'layers.1.downsample.')) for n in frozen)
    assert not model.layers[1].downsample.norm.training


def test_bad_settings_name_the_problem():
    with pytest.raises(KeyError, match="known archs: t, s, b, l"):
        SecViT('m')
    with pytest.raises(ValueError, match='divisible by 4'):
        SecViT(dict(TINY, embed_dims=[18, 32, 32, 64]))
    with pytest.raises(ValueError, match='positive ints'):
        SecViT(TINY, num_clusters=[4, 0, 2, 1])
    with pytest.raises(ValueError, match=r'\[N, 3, H, W\]'):
        SecViT(TINY)(torch.randn(1, 1, 32, 32))


def _official_layout(model, ema_offset=1):
    """The released layout, built from our own keys: a DeiT-style dict, LayerNorms without the
    LayerNorm2d wrapper, a 1x1-conv head, and each stage's persistent rotary buffer
    (``layers.N.RoPE.angle``, its inverse frequencies)."""
    official = {}
    for key, value in model.state_dict().items():
        key = key.replace('.norm1.norm.', '.norm1.').replace('.norm2.norm.', '.norm2.')
        if key == 'head.weight':
            value = value[:, :, None, None]
        official[key] = value.clone()
    for i, stage in enumerate(model.layers):
        official[f'layers.{i}.RoPE.angle'] = naive_inverse_frequencies(
            stage.blocks[0].attn.head_dim)
    ema = {k: v + ema_offset if v.is_floating_point() else v for k, v in official.items()}
    return {'model': official, 'model_ema': ema, 'epoch': 298}


def test_official_checkpoint_loads_into_timm_and_the_backbone(tmp_path):
    torch.manual_seed(0)
    source = SecViTClassifier(arch=TINY, num_classes=5).eval()
    path = tmp_path / 'secvit_official.pth'
    torch.save(_official_layout(source), path)
    x = torch.randn(1, 3, 40, 40)

    mapped = checkpoint_filter_fn(torch.load(path))
    assert set(mapped) == set(source.state_dict())
    target = SecViTClassifier(arch=TINY, num_classes=5).eval()
    target.load_state_dict(mapped, strict=True)
    with torch.no_grad():
        torch.testing.assert_close(target(x), source(x))

    assert not any('RoPE' in k for k in mapped)  # computed, not loaded
    ema = checkpoint_filter_fn(torch.load(path), use_ema=True)
    torch.testing.assert_close(ema['patch_embed.proj.0.weight'],
                               source.patch_embed.proj[0].weight + 1)

    backbone = SecViT(TINY, out_indices=3, norm_outputs=False,
                      init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    backbone.init_weights()
    with torch.no_grad():
        torch.testing.assert_close(backbone.eval()(x)[-1], source.forward_features(x))


def test_official_release_loads_strictly_through_timm(tmp_path):
    torch.manual_seed(0)
    source = SecViTClassifier(arch='t').eval()
    path = tmp_path / 'secvit_t_official.pth'
    # timm reads model_ema where there is one: the same weights, so outputs can be compared
    torch.save(_official_layout(source, ema_offset=0), path)
    model = timm.create_model('secvit_t', pretrained=True,
                              pretrained_cfg_overlay=dict(file=str(path))).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), source(x), rtol=0, atol=0)


def test_mmpretrain_classifier_weights_load_into_timm(tmp_path):
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    classifier = MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='mmcoc.SecViT', arch='t', out_indices=3, norm_outputs=False),
        neck=dict(type='mmcoc.SecViTNeck', in_channels=512),
        head=dict(type='LinearClsHead', num_classes=4, in_channels=1024))).eval()
    path = tmp_path / 'mmpretrain.pth'
    torch.save({'state_dict': classifier.state_dict(), 'meta': {}}, path)
    model = timm.create_model('secvit_t', num_classes=4, pretrained=True,
                              pretrained_cfg_overlay=dict(file=str(path), num_classes=4)).eval()
    x = torch.randn(2, 3, 48, 40)
    with torch.no_grad():
        torch.testing.assert_close(model(x), classifier(x, mode='tensor'))


def test_filter_drops_dense_heads_and_reports_nothing_matching(tmp_path):
    source = SecViT(TINY, out_indices=(0, 1, 2, 3))
    whole = {'backbone.' + k: v for k, v in source.state_dict().items()}
    whole['neck.lateral_convs.0.conv.weight'] = torch.zeros(1)
    whole['roi_head.bbox_head.fc_cls.weight'] = torch.zeros(1)
    assert set(checkpoint_filter_fn({'state_dict': whole})) == set(source.state_dict())
    path = tmp_path / 'other.pth'
    torch.save({'fc.weight': torch.zeros(2, 2)}, path)
    with pytest.raises(ValueError, match='no key of checkpoint'):
        SecViT(TINY, init_cfg=dict(type='Pretrained', checkpoint=str(path))).init_weights()
    with pytest.raises(KeyError, match='model_ema'):
        checkpoint_filter_fn({'model': {}}, use_ema=True)


def test_classifier_head_reset_and_pre_logits():
    model = timm.create_model('secvit_t', num_classes=0)
    x = torch.randn(2, 3, 32, 32)
    assert model(x).shape == (2, 1024)
    assert model.forward_features(x).shape == (2, 512, 1, 1)
    model.reset_classifier(7)
    assert model(x).shape == (2, 7)
    # Swish after BN, then the mean: the pre-logits are the official head's input
    feats = model.forward_features(x)
    expected = F.silu(model.norm(model.proj(feats))).mean((2, 3))
    torch.testing.assert_close(model.forward_head(feats, pre_logits=True), expected)


def test_ffn_keeps_two_hidden_maps_not_three_and_matches_the_plain_ffn():
    from mmcoc.models.backbones.secvit import ConvFFN
    torch.manual_seed(0)
    ffn = ConvFFN(8, 24).train()
    x = torch.randn(2, 8, 10, 12, requires_grad=True)
    hidden = set()

    # plainly three hidden-width maps are kept: GELU's input (fc1's output), its output (the
    # depthwise conv's input) and their sum (fc2's input); GELU's output is recomputed
    def pack(t):
        if t.dim() == 4 and t.shape[1] == 24 and t.shape[2:] == (10, 12):
            hidden.add(t.untyped_storage().data_ptr())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = ffn(x)
    assert len(hidden) == 2, len(hidden)
    grads = torch.autograd.grad(out.square().sum(), [x, *ffn.parameters()])
    h = F.gelu(ffn.fc1(x))
    plain = ffn.fc2(h + ffn.dwconv(h))
    plain_grads = torch.autograd.grad(plain.square().sum(), [x, *ffn.parameters()])
    assert torch.equal(out, plain)
    for a, b in zip(grads, plain_grads):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
