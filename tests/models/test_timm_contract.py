"""timm's generic model contract for every registered model (coc_*, fec_*, secvit_*).

The equivalent of the checks of ``tests/test_models.py`` of pytorch-image-models that apply to
models without pretrained tags (forward, backward, default_cfg, features_only, the feature
wrappers, forward_intermediates, torch.fx forward/backward), written here so that no network is
needed; plus ``torch.jit.trace`` at one size and ``torch.export`` with dynamic height and width
(``torch.jit.script`` is not supported: see docs/classification.md). Small inputs (64x64, the
size at which every stage still has a 2x2 map) keep the file fast on a CPU.
"""
import copy
import functools
import math

import pytest
import timm
import timm.optim
import torch
from timm.layers import get_notrace_functions, get_notrace_modules
from timm.models._features import FeatureGetterNet, FeatureHookNet, FeatureInfo
from timm.models._features_fx import FeatureGraphNet

import mmcoc  # noqa: F401  (registers the models)

MODELS = timm.list_models(['coc_*', 'fec_*', 'secvit_*'])
FAMILIES = ['coc_tiny', 'fec_small', 'secvit_t']  # the smallest of each family
SIZE = 64  # every model's last stage (stride 32) is 2x2 here
NUM_CLASSES = 42


# small maps: one thread is fastest, and several oversubscribe a loaded CPU by far
pytestmark = pytest.mark.usefixtures('one_thread')


def test_thirteen_models_are_registered():
    assert len(MODELS) == 13


@functools.lru_cache(maxsize=None)
def _built(name):
    torch.manual_seed(0)
    return timm.create_model(name, num_classes=NUM_CLASSES)


def _model(name):
    """A fresh copy of the (cached) ``name`` with a 42-class head, in eval mode."""
    return copy.deepcopy(_built(name)).eval()


def _images(batch=1, size=SIZE):
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(1))


# ------------------------------------------------------------------ forward, backward, cfgs
@pytest.mark.parametrize('name', MODELS)
def test_forward_backward_and_default_cfg(name):
    model = _model(name)
    cfg = model.pretrained_cfg
    x = _images()
    with torch.no_grad():
        out = model(x)
    assert out.shape == (1, NUM_CLASSES) and not out.isnan().any()

    # backward: every parameter gets a gradient (FEC's frozen conv_f is a buffer)
    model.train()
    out = model(_images(2))
    out.mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert missing == [], f'no gradient for {missing[:5]}'
    assert out.shape[-1] == NUM_CLASSES and not out.isnan().any()

    # default_cfg, at 64 px: the unpooled features are input / 32 per side
    model.eval()
    assert cfg['pool_size'] == tuple(s // 32 for s in cfg['input_size'][1:])
    assert model.num_classes == NUM_CLASSES and model.num_features > 0
    state_dict = model.state_dict()
    assert cfg['classifier'] + '.weight' in state_dict
    assert cfg['first_conv'] + '.weight' in state_dict
    with torch.no_grad():
        features = model.forward_features(x)
        assert features.shape == (1, model.num_features, 2, 2)
        pre_logits = model.forward_head(features, pre_logits=True)
        assert pre_logits.shape == (1, model.head_hidden_size)
        model.reset_classifier(0)
        assert model.num_classes == 0
        assert model(x).shape == pre_logits.shape
        model.reset_classifier(0, '')
        assert model(x).dim() == 4 and model(x).shape[2:] == (2, 2)


@pytest.mark.parametrize('name', FAMILIES)
def test_global_pool_is_checked_like_create_model(name):
    with pytest.raises(ValueError, match='global_pool'):
        timm.create_model(name, global_pool='bogus')
    unpooled = timm.create_model(name, num_classes=0, global_pool='').eval()
    model = timm.create_model(name, num_classes=3).eval()
    x = _images()
    with torch.no_grad():
        assert unpooled(x).dim() == 4
        with pytest.raises(ValueError, match='global_pool'):
            model.reset_classifier(0, 'bogus')
        assert model(x).shape == (1, 3)  # untouched by the refused reset
        model.reset_classifier(5, 'max')
        assert model(x).shape == (1, 5)
        maps = model.pre_pool(model.forward_features(x))
        assert torch.equal(model.forward_head(model.forward_features(x), pre_logits=True),
                           maps.amax((2, 3)))
    with pytest.raises(ValueError, match='num_classes'):
        model.reset_classifier(-1)


# ------------------------------------------------------------------ features
def _check_features(features, info: FeatureInfo, batch=1, size=SIZE):
    channels, reductions = info.channels(), info.reduction()
    assert len(features) == len(channels)
    for c, r, f in zip(channels, reductions, features):
        assert f.shape[:2] == (batch, c)
        assert f.shape[2] <= math.ceil(size / r) + 1 and f.shape[3] <= math.ceil(size / r) + 1
        assert not f.isnan().any()


@pytest.mark.parametrize('name', MODELS)
def test_forward_intermediates_and_feature_wrappers(name):
    model = _model(name)
    info = FeatureInfo(model.feature_info, len(model.feature_info))
    assert info.reduction() == [4, 8, 16, 32] and info.channels() == list(model.embed_dims)
    x = _images()
    with torch.no_grad():
        final, intermediates = model.forward_intermediates(x)
        _check_features(intermediates, info)
        assert torch.allclose(final, model.forward_features(x))
        # the last stage's map normed as forward_features (CoC/FEC: norm3; SecViT: none)
        normed = model.forward_intermediates(x, indices=1, norm=True, intermediates_only=True)
        assert len(normed) == 1 and torch.allclose(normed[0], final)
        early = model.forward_intermediates(x, indices=[0, 1], stop_early=True,
                                            intermediates_only=True)
        assert all(torch.equal(a, b) for a, b in zip(early, intermediates[:2]))
        model.set_grad_checkpointing()
        again, _ = model.forward_intermediates(x)
        assert torch.allclose(final, again, rtol=1e-4, atol=1e-5)
        model.set_grad_checkpointing(False)
        with pytest.raises(ValueError, match='NCHW'):
            model.forward_intermediates(x, output_fmt='NHWC')

        # timm's wrappers over the same weights: forward_intermediates (the default, which
        # prunes the later stages), hooks on each stage's last block, torch.fx (torchvision's
        # feature extraction, slow to trace: the smallest model of each family)
        wrappers = [FeatureGetterNet(copy.deepcopy(model), out_indices=(1, 2)),
                    FeatureHookNet(copy.deepcopy(model), out_indices=(1, 2))]
        if name in FAMILIES:
            wrappers.append(FeatureGraphNet(copy.deepcopy(model), out_indices=(1, 2)))
        for wrapper in wrappers:
            features = wrapper(x)
            _check_features(features, wrapper.feature_info)
            assert wrapper.feature_info.channels() == list(model.embed_dims[1:3])
            assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(features,
                                                                      intermediates[1:3]))
        getter = wrappers[0].model  # pruned to the stages asked for
        assert getter.built_stages == 3 and getter.num_features == model.embed_dims[2]


@pytest.mark.parametrize('feature_cls', [None, 'getter', 'hook', 'fx'])
@pytest.mark.parametrize('name', FAMILIES)
def test_features_only_through_create_model(name, feature_cls):
    kwargs = {} if feature_cls is None else dict(feature_cls=feature_cls)
    model = timm.create_model(name, features_only=True, **kwargs).eval()
    assert len(model.feature_info.channels()) == 4
    with torch.no_grad():
        _check_features(model(_images(2)), model.feature_info, batch=2)
    subset = timm.create_model(name, features_only=True, out_indices=(0, 3), **kwargs).eval()
    assert subset.feature_info.reduction() == [4, 32]
    with torch.no_grad():
        _check_features(subset(_images()), subset.feature_info)


# ------------------------------------------------------------------ torch.fx
class _LeafTracer(torch.fx.Tracer):
    """torch.fx with timm's leaf modules and functions (what timm's FX feature extraction
    traces with), without torchvision's per-node bookkeeping, which is slow on deep models."""

    def __init__(self):
        super().__init__(autowrap_functions=tuple(get_notrace_functions()),
                         param_shapes_constant=True)
        self.leaves = tuple(get_notrace_modules())

    def is_leaf_module(self, m, qualname):
        return isinstance(m, self.leaves) or super().is_leaf_module(m, qualname)


@pytest.mark.parametrize('name', MODELS)
def test_fx_forward_and_backward(name):
    # no drop path: one graph serves training and evaluation (batch norms switch at run time)
    torch.manual_seed(0)
    model = timm.create_model(name, num_classes=NUM_CLASSES, drop_path_rate=0.).train()
    fx_model = torch.fx.GraphModule(model, _LeafTracer().trace(model))
    x = _images()
    model.eval()
    fx_model.eval()
    with torch.inference_mode():
        assert torch.equal(fx_model(x), model(x))

    fx_model.train()
    out = fx_model(_images(2))
    out.mean().backward()
    assert out.shape[-1] == NUM_CLASSES and not out.isnan().any()
    missing = [n for n, p in fx_model.named_parameters() if p.grad is None]
    assert missing == []
    assert sum(p.numel() for p in fx_model.parameters()) == \
        sum(p.numel() for p in model.parameters())


# ------------------------------------------------------------------ TorchScript, export
@pytest.mark.filterwarnings('ignore::torch.jit.TracerWarning')
@pytest.mark.parametrize('name', MODELS)
def test_jit_trace_at_one_size(name):
    model = _model(name)
    x = _images()
    with torch.no_grad(), torch.jit.optimized_execution(False):
        traced = torch.jit.trace(model, x, check_trace=False)
        assert torch.allclose(traced(x), model(x), atol=1e-5)
        x2 = _images(2)  # another batch size, the same image size
        assert torch.allclose(traced(x2), model(x2), atol=1e-5)


@pytest.mark.parametrize('name', FAMILIES)
def test_export_with_dynamic_height_and_width(name):
    model = _model(name)
    side = torch.export.Dim.DYNAMIC(min=64, max=2048)
    exported = torch.export.export(model, (_images(),),
                                   dynamic_shapes=({2: side, 3: side}, )).module()
    with torch.no_grad():
        # sizes the clustering ops pad (75, 100) as well as divisible ones
        for h, w in ((64, 64), (100, 75), (96, 160)):
            x = torch.randn(1, 3, h, w)
            assert torch.allclose(exported(x), model(x), atol=1e-5)


# ------------------------------------------------------------------ training helpers
@pytest.mark.parametrize('name', FAMILIES)
def test_optimizer_groups_and_no_weight_decay(name):
    model = _model(name)
    skip = model.no_weight_decay()
    names = dict(model.named_parameters())
    assert skip <= set(names)
    # the layer scales and similarity scale/shift (SecViT-T has no layer scale)
    assert bool(skip) == (not name.startswith('secvit'))
    optimizer = timm.optim.create_optimizer_v2(model, 'adamw', lr=1e-3, weight_decay=0.05,
                                               layer_decay=0.75)
    covered = {id(p) for group in optimizer.param_groups for p in group['params']}
    assert covered == {id(p) for p in model.parameters()}
    assert len({g['lr_scale'] for g in optimizer.param_groups}) > 3
    for coarse in (True, False):
        groups = timm.models.group_parameters(model, model.group_matcher(coarse=coarse))
        assert sum(len(v) for v in groups.values()) == len(names)
