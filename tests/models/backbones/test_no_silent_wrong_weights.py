"""Checkpoints of another variant, bare backbones and NaN weights are refused by every loader;
the backbones' own loading paths still work; bad hyper-parameters get a clear error."""
import pytest
import torch
from mmengine.registry import DefaultScope

import mmcoc  # noqa: F401
from mmcoc.models import FEC, ContextCluster, SecViT
from mmcoc.utils import load_checkpoint_file
from mmcoc.utils.config import load_config

SEG = 'configs/demo/coc_tiny_fpn_demo.py'


def whole_model_checkpoint(path, backbone_state, extra=None):
    state = {f'backbone.{k}': v for k, v in backbone_state.items()}
    state.update(extra or {})
    torch.save({'state_dict': state, 'meta': {}}, path)
    return str(path)


def test_mmseg_init_model_refuses_another_variant_and_a_bare_backbone(tmp_path):
    from mmseg.apis import init_model
    cfg = load_config(SEG)
    cfg.model.backbone.norm_cfg = dict(type='GN', num_groups=1)
    with DefaultScope.overwrite_default_scope('mmseg'):
        heads = {k: v for k, v in init_model(cfg, device='cpu').state_dict().items()
                 if not k.startswith('backbone.')}
        other = whole_model_checkpoint(tmp_path / 'small.pth',
                                       ContextCluster('small').state_dict(), heads)
        with pytest.raises(ValueError, match=r'does not fit this ContextCluster backbone '
                                             r'\(backbone\.\).*of another shape'):
            init_model(cfg, other, device='cpu')
        bare = tmp_path / 'bare.pth'
        torch.save(ContextCluster('tiny').state_dict(), bare)
        with pytest.raises(ValueError, match=r'backbone alone .*init_cfg'):
            init_model(cfg, str(bare), device='cpu')


def test_mmpretrain_get_model_refuses_a_deeper_variant(tmp_path):
    from mmpretrain.apis import get_model
    cfg = load_config('configs/demo/coc_tiny_plain_cls_demo.py')
    deeper = ContextCluster('medium').state_dict()  # same widths as small, twice the blocks
    path = whole_model_checkpoint(tmp_path / 'medium.pth', deeper)
    cfg.model.backbone.arch = 'small'
    cfg.model.head.in_channels = 512
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        with pytest.raises(ValueError, match='not in this backbone'):
            get_model(cfg, pretrained=path, device='cpu')


def test_nan_weights_are_refused_naming_the_tensor(tmp_path):
    state = ContextCluster('tiny').state_dict()
    state['stages.1.blocks.0.mlp.fc1.weight'][0, 0] = float('nan')
    path = tmp_path / 'nan.pth'
    torch.save({'state_dict': state}, path)
    with pytest.raises(ValueError,
                       match=r"NaN or Inf values in 'stages.1.blocks.0.mlp.fc1.weight'"):
        load_checkpoint_file(str(path))
    model = ContextCluster('tiny')
    with pytest.raises(ValueError, match=r'NaN or Inf values in'):
        model.load_state_dict(state)  # any other loader: the backbone's own check


def test_own_loading_paths_still_work(tmp_path):
    tiny = ContextCluster('tiny', out_indices=(0, 1, 2, 3))
    path = tmp_path / 'tiny.pth'
    torch.save({'model': tiny.state_dict()}, path)
    again = ContextCluster('tiny', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    again.init_weights()  # a classifier-layout file into a dense backbone: partial on purpose
    ContextCluster('tiny', out_indices=(0, 1, 2, 3)).load_state_dict(tiny.state_dict())
    import timm
    model = timm.create_model('coc_tiny', pretrained=True, num_classes=7,
                              pretrained_cfg_overlay=dict(file=str(path)))
    assert model.head.out_features == 7


@pytest.mark.parametrize('family,kwargs,message', [
    (ContextCluster, dict(drop_path_rate=1.0), r'drop_path_rate must be in \[0, 1\)'),
    (ContextCluster, dict(drop_path_rate=-0.1), r'drop_path_rate must be in \[0, 1\)'),
    (FEC, dict(drop_path_rate=1.5), r'drop_path_rate must be in \[0, 1\)'),
    (SecViT, dict(drop_path_rate=2.0), r'drop_path_rate must be in \[0, 1\)'),
    (ContextCluster, dict(layer_scale_init_value=-1e-5), 'layer_scale_init_value must be >= 0'),
    (SecViT, dict(layer_scale_init_value=-1.0), 'layer_scale_init_value must be >= 0'),
    (ContextCluster, dict(out_indices=(3, 0)), 'increasing order'),
    (ContextCluster, dict(out_indices=(1, 1)), 'repeats a stage'),
    (ContextCluster, dict(out_indices=(-1, 3)), 'repeats a stage'),
])
def test_bad_hyper_parameters_get_a_clear_error(family, kwargs, message):
    arch = {ContextCluster: 'tiny', FEC: 'small', SecViT: 't'}[family]
    with pytest.raises(ValueError, match=message):
        family(arch, **kwargs)
