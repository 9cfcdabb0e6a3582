"""The one fit policy (``mmcoc.utils.weights_fit``): per part, counted in parameters, for every
path that loads weights."""
import pytest
import torch

from mmcoc.utils import check_fit
from mmcoc.utils.config import build_model, load_config
from mmcoc.utils.weights_fit import model_parts, recorded_backbone

DET = 'tests/tools/tiny_maskrcnn.py'
SEG = 'configs/demo/coc_tiny_fpn_demo.py'


@pytest.fixture(scope='module')
def detector():
    return build_model(load_config(DET))


@pytest.fixture(scope='module')
def segmentor():
    return build_model(load_config(SEG))


def without(state, *prefixes):
    return {k: v for k, v in state.items() if not k.startswith(prefixes)}


def test_parts_are_the_top_level_modules_with_weights(detector):
    assert model_parts(detector) == {'backbone': 'backbone.', 'neck': 'neck.',
                                     'rpn_head': 'rpn_head.', 'roi_head': 'roi_head.'}


def test_a_complete_checkpoint_fits(detector):
    fits = check_fit('own.pth', {'state_dict': detector.state_dict()}, detector)
    assert all(f.coverage == 1 and f.extra == 0 for f in fits)


def test_a_headless_checkpoint_is_refused_naming_the_heads_in_parameters(detector):
    headless = without(detector.state_dict(), 'roi_head.', 'rpn_head.')
    with pytest.raises(ValueError) as err:
        check_fit('headless.pth', {'state_dict': headless}, detector)
    message = str(err.value)
    assert "rpn_head: 0% of its" in message and 'roi_head: 0% of its' in message
    assert 'M parameters are in the checkpoint' in message
    assert 'complete: backbone 100%, neck 100%' in message


def test_a_semantic_fpn_checkpoint_does_not_fit_a_mask_rcnn(detector, segmentor):
    """The backbone and the FPN neck match (49% of the parameters of the published pair, 84%
    of this tiny pair's): still refused, for the heads it lacks."""
    fpn = segmentor.state_dict()
    own = detector.state_dict()
    shared = sum(v.numel() for k, v in own.items() if k in fpn and v.is_floating_point())
    total = sum(v.numel() for v in own.values() if v.is_floating_point())
    assert 0.3 < shared / total < 0.9  # what a share over the whole model would let through
    with pytest.raises(ValueError, match='roi_head: 0% of its'):
        check_fit('fpn.pth', {'state_dict': fpn}, detector)


def test_integer_weights_are_refused_not_cast(detector):
    state = dict(detector.state_dict())
    key = 'roi_head.bbox_head.fc_cls.weight'
    state[key] = state[key].round().to(torch.int64)
    with pytest.raises(ValueError, match=rf"'{key}' is torch.int64 in the checkpoint where the "
                                         r'model holds torch.float32'):
        check_fit('int.pth', {'state_dict': state}, detector)


def test_the_recorded_config_of_another_variant_is_named(detector):
    cfg = load_config(DET)
    state = dict(detector.state_dict())
    state['backbone.patch_embed.proj.weight'] = torch.zeros(64, 5, 4, 4)
    checkpoint = {'state_dict': state, 'meta': {'cfg': (
        "model = dict(\n    backbone=dict(\n        arch='small',\n"
        "        type='mmcoc.FEC'),\n    type='MaskRCNN')\n")}}
    with pytest.raises(ValueError, match=r"recorded config names the backbone mmcoc\.FEC arch "
                                         r"'small'; this config names mmcoc\.ContextCluster"):
        check_fit('fec.pth', checkpoint, detector, config=cfg.model)


def test_the_recorded_config_is_read_never_run(tmp_path):
    marker = tmp_path / 'ran'
    text = (f"__import__('os').system('touch {marker}')\n"
            "model = dict(backbone=dict(type='mmcoc.ContextCluster', arch='tiny'))\n")
    assert recorded_backbone({'meta': {'cfg': text}}) == ('mmcoc.ContextCluster', 'tiny')
    assert not marker.exists()


def test_another_family_is_refused_by_timm_though_most_keys_match(tmp_path):
    import timm

    import mmcoc  # noqa: F401
    path = tmp_path / 'fec_small.pth'
    torch.save(timm.create_model('fec_small').state_dict(), path)
    with pytest.raises(ValueError, match=r'parameters not in this backbone \(first: '
                                         r"\['stages\.1\.downsample\.conv_f\.weight'"):
        timm.create_model('coc_tiny_plain', pretrained=True,
                          pretrained_cfg_overlay=dict(file=str(path)))
    own = tmp_path / 'coc.pth'
    source = timm.create_model('coc_tiny_plain')
    torch.save({'model': source.state_dict()}, own)
    loaded = timm.create_model('coc_tiny_plain', pretrained=True,
                               pretrained_cfg_overlay=dict(file=str(own)))
    assert torch.equal(loaded.patch_embed.proj.weight, source.patch_embed.proj.weight)
    assert loaded.pretrained_cfg.get('state_dict') is None  # the checkpoint is not kept alive


def test_the_apis_exporter_and_visualiser_refuse_a_headless_segmentor(segmentor, tmp_path):
    import importlib.util

    from mmcoc.apis import load_model
    path = tmp_path / 'headless.pth'
    torch.save({'state_dict': without(segmentor.state_dict(), 'decode_head.')}, path)
    with pytest.raises(ValueError, match='decode_head: 0% of its'):
        load_model(SEG, str(path))
    for tool, argv in [
            ('tools/deployment/pytorch2onnx.py', [SEG, str(path), str(tmp_path / 'x.onnx')]),
            ('tools/visualize_clusters.py', ['--config', SEG, '--checkpoint', str(path),
                                             '--image', 'docs/astronaut_s2b4h0.png',
                                             '--out', str(tmp_path)])]:
        spec = importlib.util.spec_from_file_location('tool', tool)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        with pytest.raises(SystemExit) as err:
            module.main(argv)
        assert 'decode_head: 0% of its' in str(err.value), tool
    assert not (tmp_path / 'x.onnx').exists()


def test_init_cfg_from_a_url_reads_weights_only(weights_server, tmp_path, monkeypatch):
    from mmcoc.models import ContextCluster
    from tests.helpers import Payload
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'hub'))
    marker = tmp_path / 'pwned'
    torch.save({'state_dict': {}, 'x': Payload(marker)}, weights_server.folder / 'bb.pth')
    model = ContextCluster('tiny', init_cfg=dict(
        type='Pretrained', checkpoint=f'{weights_server.url}/bb.pth'))
    with pytest.raises(RuntimeError, match='posix.system'):
        model.init_weights()
    assert not marker.exists()


def _host_resnet(checkpoint):
    from mmpretrain.models import ResNet
    return ResNet(depth=18, init_cfg=dict(type='Pretrained', checkpoint=checkpoint,
                                          prefix='backbone.'))


def test_a_host_modules_pretrained_url_is_read_weights_only(weights_server, tmp_path,
                                                             monkeypatch):
    from mmcoc.utils.weights_fit import read_host_pretrained
    from tests.helpers import Payload
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'hub'))
    marker = tmp_path / 'pwned'
    torch.save({'state_dict': {}, 'x': Payload(marker)}, weights_server.folder / 'r18.pth')
    # mmengine's PretrainedInit would unpickle this URL in full: the runners read it first
    with pytest.raises(RuntimeError, match='posix.system'):
        read_host_pretrained(_host_resnet(f'{weights_server.url}/r18.pth'))
    assert not marker.exists()


def test_a_host_modules_pretrained_weights_are_checked_then_loaded(weights_server, tmp_path,
                                                                   monkeypatch):
    from mmcoc.utils.weights_fit import read_host_pretrained
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'hub'))
    torch.manual_seed(1)
    trained = _host_resnet(None).state_dict()
    torch.save({'state_dict': {'backbone.' + k: v for k, v in trained.items()}},
               weights_server.folder / 'r18.pth')
    model = _host_resnet(f'{weights_server.url}/r18.pth')
    read_host_pretrained(model)
    assert model.init_cfg['checkpoint'] == str(tmp_path / 'hub' / 'hub' / 'checkpoints' / 'r18.pth')
    model.init_weights()  # mmengine's own PretrainedInit, now on the checked local copy
    assert all(torch.equal(v, trained[k]) for k, v in model.state_dict().items())
    # half a backbone is refused in parameters, before mmengine would load it with a warning
    torch.save({'state_dict': {'backbone.' + k: v for k, v in trained.items()
                               if not k.startswith('layer4.')}}, weights_server.folder / 'r.pth')
    with pytest.raises(ValueError, match=r'does not fit ResNet: 24.9% of its 11.19M param'):
        read_host_pretrained(_host_resnet(f'{weights_server.url}/r.pth'))
