"""tools/model_converters/official2mmcoc.py: official releases convert into the layouts
mmpretrain and mmdet/mmseg load directly, with the outputs of the source model."""
import argparse
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmcoc.models import ContextClusterClassifier
from mmcoc.testing import official_classification, official_dense, perturbed
from tests.tools.tool_runner import ROOT, run

pytestmark = pytest.mark.slow  # subprocesses, exports, compiles or docs: make test-fast skips

CONVERTER = 'tools/model_converters/official2mmcoc.py'
TINY_IN1K = ROOT / 'configs' / 'context_cluster' / 'coc_tiny_in1k.py'


def write_official_classifier(path, generation=3, normalizer=None):
    """An official-layout classification release of a perturbed CoC-tiny; the model. Its
    normaliser is the generation's (2023-03: 'count'; 2024: 'similarity') unless given."""
    torch.manual_seed(generation)
    normalizer = normalizer or {1: 'count', 3: 'similarity'}[generation]
    source = perturbed(ContextClusterClassifier('tiny', cluster_normalizer=normalizer)).eval()
    torch.save(dict(epoch=310, args=argparse.Namespace(model='coc_tiny'),
                    state_dict=official_classification(source, generation)), path)
    return source


@pytest.mark.parametrize('generation', [1, 3])
def test_classification_release_converts_for_mmpretrain(tmp_path, generation):
    from mmpretrain.apis import get_model
    source = write_official_classifier(tmp_path / 'coc_tiny.pth.tar', generation)
    out = tmp_path / 'coc_tiny_mmpretrain.pth'
    result = run([sys.executable, CONVERTER, str(tmp_path / 'coc_tiny.pth.tar'), str(out),
                  '--config', str(TINY_IN1K)])
    assert 'layout mmpretrain' in result.stdout and 'loads strictly' in result.stdout
    # every backbone tensor but the point embedding's leaves the flat network layout (the
    # fc1/fc2/fc_v names of generation 1 are renamed in the same keys); norm -> norm3
    renamed = [k for k in source.state_dict() if not k.startswith(('head.', 'patch_embed.'))]
    assert f'{len(renamed)} renamed' in result.stdout
    assert f'{0 if generation == 3 else 2 * 14} reshaped' in result.stdout

    normalizer = {1: 'count', 3: 'similarity'}[generation]
    assert f"trained with cluster_normalizer='{normalizer}'" in result.stdout
    assert torch.load(out)['meta']['cluster_normalizer'] == normalizer
    # the config's 'similarity' fits today's release; the 2023 one needs the override
    assert ('--cfg-options model.backbone.cluster_normalizer=count' in result.stdout) == \
        (generation == 1)
    # today's release runs in the config as it is; the 2023 one with the override
    override = dict(backbone=dict(cluster_normalizer='count')) if generation == 1 else {}
    model = get_model(str(TINY_IN1K), pretrained=str(out), device='cpu', **override)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x, mode='tensor'), source(x), rtol=0, atol=1e-5)


def test_dense_release_stays_whole_and_loads_into_mmdet(tmp_path):
    from mmdet.registry import MODELS
    config = ROOT / 'configs' / 'context_cluster' / 'coc_small_maskrcnn_coco.py'
    cfg = Config.fromfile(str(config))
    init_default_scope('mmdet')
    torch.manual_seed(0)
    detector = MODELS.build(cfg.model).eval()
    perturbed(detector.backbone)
    torch.save(official_dense(detector), tmp_path / 'mask_rcnn_coc_small.pth')
    out = tmp_path / 'converted.pth'
    result = run([sys.executable, CONVERTER, str(tmp_path / 'mask_rcnn_coc_small.pth'), str(out),
                  '--config', str(config)])
    assert 'layout whole' in result.stdout and 'loads strictly into the MaskRCNN' in result.stdout
    # every released Mask R-CNN was trained with 'count'; the config fine-tunes today's
    # ImageNet weights with 'similarity': the converter names the override
    assert "trained with cluster_normalizer='count'" in result.stdout
    assert '--cfg-options model.backbone.cluster_normalizer=count' in result.stdout

    target = MODELS.build(cfg.model).eval()
    target.load_state_dict(torch.load(out)['state_dict'], strict=True)
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        for a, b in zip(detector.backbone(x), target.backbone(x)):
            assert torch.equal(a, b)
    assert torch.equal(target.neck.fpn_convs[0].conv.weight,
                       detector.neck.fpn_convs[0].conv.weight)


def test_wrong_config_names_the_key_and_writes_nothing(tmp_path):
    write_official_classifier(tmp_path / 'coc_tiny.pth.tar')
    small = ROOT / 'configs' / 'context_cluster' / 'coc_small_in1k.py'
    out = tmp_path / 'out.pth'
    with pytest.raises(AssertionError, match=r'shape of backbone.patch_embed.proj.weight: '
                                             r'\(32, 5, 4, 4\) in the file, \(64, 5, 4, 4\)'):
        run([sys.executable, CONVERTER, str(tmp_path / 'coc_tiny.pth.tar'), str(out),
             '--config', str(small)])
    assert not out.exists()


def test_secvit_release_converts_and_reports_its_rotary_buffers(tmp_path):
    from mmcoc.models import SecViTClassifier
    config = ROOT / 'configs' / 'secvit' / 'secvit_t_in1k.py'
    torch.manual_seed(0)
    source = SecViTClassifier(arch='t').eval()
    official = {k.replace('.norm1.norm.', '.norm1.').replace('.norm2.norm.', '.norm2.'): v
                for k, v in source.state_dict().items()}
    official['head.weight'] = official['head.weight'][:, :, None, None]
    for i in range(4):  # the release's persistent rotary buffers
        official[f'layers.{i}.RoPE.angle'] = torch.zeros(8)
    torch.save(dict(model=official, epoch=298), tmp_path / 'secvit_t.pth')
    out = tmp_path / 'secvit_t_mmpretrain.pth'
    result = run([sys.executable, CONVERTER, str(tmp_path / 'secvit_t.pth'), str(out),
                  '--config', str(config)])
    assert 'SecViT weights, layout mmpretrain' in result.stdout
    assert '4 dropped' in result.stdout and "'layers.3.RoPE.angle'" in result.stdout
    assert 'loads strictly into the ImageClassifier' in result.stdout
    state_dict = torch.load(out)['state_dict']
    torch.testing.assert_close(state_dict['head.fc.weight'], source.head.weight)
    torch.testing.assert_close(state_dict['neck.proj.weight'], source.proj.weight)
