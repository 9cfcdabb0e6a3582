"""The stage layout (version 2) of Context-Cluster and FEC weights, and files of the flat
``network`` layout (version 1: the official releases and mmcoc's files before 2026-12) loading
into it through every path: torch's ``load_state_dict``, the fit policy, the hosts' loaders."""
import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.runner.checkpoint import get_state_dict, load_checkpoint, save_checkpoint

import mmcoc  # noqa: F401
from mmcoc.models import FEC, ContextCluster
from mmcoc.models.weight_layouts.context_cluster import LAYOUT_VERSION, stage_layout_key
from mmcoc.testing import network_layout, network_layout_key, perturbed
from mmcoc.utils.config import load_config
from mmcoc.utils.weights_fit import check_fit

SEG = 'configs/demo/coc_tiny_fpn_demo.py'


def outputs(model, seed=1):
    x = torch.randn(1, 3, 48, 64, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return model.eval()(x)


@pytest.mark.parametrize('family', [ContextCluster, FEC])
def test_state_dicts_record_layout_2_and_saved_files_keep_it(family, tmp_path):
    model = family('small' if family is FEC else 'tiny', out_indices=(0, 1, 2, 3))
    state = model.state_dict()
    assert state._metadata['']['version'] == LAYOUT_VERSION == 2
    assert not any(k.startswith('network.') for k in state)
    # the runner's writer (get_state_dict, save_checkpoint) and the weights-only reader keep it
    save_checkpoint(dict(state_dict=get_state_dict(model)), str(tmp_path / 'c.pth'))
    loaded = torch.load(tmp_path / 'c.pth', weights_only=True)['state_dict']
    assert loaded._metadata['']['version'] == 2


@pytest.mark.parametrize('family', [ContextCluster, FEC])
def test_the_two_key_maps_are_inverse(family):
    keys = family('small' if family is FEC else 'tiny', out_indices=(0, 1, 2, 3)).state_dict()
    legacy = [network_layout_key(k) for k in keys]
    assert 'network.5.proj.weight' in legacy or 'network.5.conv_f.weight' in legacy
    assert {'network.6.1.layer_scale_1', 'norm6.weight', 'norm2.bias'} <= set(legacy)
    assert [stage_layout_key(k) for k in legacy] == list(keys)


@pytest.mark.parametrize('family', [ContextCluster, FEC])
@pytest.mark.parametrize('recorded', [True, False], ids=['version-1', 'no-metadata'])
def test_a_layout_1_state_dict_loads_with_the_same_outputs(family, recorded):
    torch.manual_seed(0)
    arch = 'small' if family is FEC else 'tiny'
    source = perturbed(family(arch, out_indices=(0, 1, 2, 3)))
    legacy = network_layout(source.state_dict())
    assert legacy._metadata['']['version'] == 1 and 'network.2.0.norm1.weight' in legacy
    if not recorded:
        legacy = dict(legacy)  # a plain dict: the keys alone tell the layout
    target = family(arch, out_indices=(0, 1, 2, 3))
    check_fit('layout 1', legacy, target, whole=False)  # the fit policy sees today's names
    result = target.load_state_dict(legacy)  # strict
    assert result.missing_keys == result.unexpected_keys == []
    assert 'network.2.0.norm1.weight' in legacy  # torch renamed its own copy
    for a, b in zip(outputs(source), outputs(target)):
        assert torch.equal(a, b)


def test_the_recorded_version_decides_where_the_keys_cannot():
    # one output norm, no block: layout 1's norm2 is stage 1's, layout 2's is stage 2's
    stage1 = ContextCluster('tiny', out_indices=1)
    stage2 = ContextCluster('tiny', out_indices=2)
    norms = {'norm2.weight': torch.full((196, ), 3.), 'norm2.bias': torch.zeros(196)}
    current = dict(norms)  # no record: today's layout, left as it is
    stage2.upgrade_state_dict(current, '', None)
    assert current.keys() == norms.keys()
    recorded = dict(norms)
    stage1.upgrade_state_dict(recorded, '', 1)  # a layout-1 file says so
    assert set(recorded) == {'norm1.weight', 'norm1.bias'}


def test_a_layout_1_whole_segmentor_loads_through_the_hosts_and_the_apis(tmp_path):
    from mmseg.apis import init_model

    from mmcoc.apis import load_model
    cfg = load_config(SEG)
    cfg.model.backbone.norm_cfg = dict(type='GN', num_groups=1)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmseg'):
        source = perturbed(init_model(cfg, device='cpu'))
        path = tmp_path / 'layout1.pth'
        state = network_layout(source.state_dict(), 'backbone.')
        assert state._metadata['backbone']['version'] == 1
        assert 'backbone.network.0.0.token_mixer.f.weight' in state
        torch.save({'state_dict': state, 'meta': {}}, path)
        check_fit(str(path), torch.load(path, weights_only=True), source, config=cfg.model)
        loaded = init_model(cfg, str(path), device='cpu')
        target = init_model(cfg, device='cpu')
        load_checkpoint(target, str(path), strict=True)  # mmengine's loader, as the runner's
    expected = source.state_dict()
    for model in (loaded, target, load_model(SEG, str(path), cluster_sites=False).model):
        got = model.state_dict()
        assert got.keys() == expected.keys()
        assert all(torch.equal(got[k], expected[k]) for k in expected)
