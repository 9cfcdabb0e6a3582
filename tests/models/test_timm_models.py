import pytest
import timm
import torch

import mmcoc  # noqa: F401  (registers the coc_* models)

# parameter counts of the reference implementation with a 1000-class head
PARAMS = {'coc_tiny': 5_570_584, 'coc_tiny_plain': 5_570_584, 'coc_small': 14_657_024,
          'coc_medium': 29_290_520}


@pytest.mark.parametrize('name', ['coc_tiny', 'coc_tiny_plain', 'coc_small', 'coc_medium',
                                  'coc_base_dim64', 'coc_base_dim96'])
def test_create_model_for_every_variant(name):
    model = timm.create_model(name, num_classes=10)
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 10)
    if name in PARAMS:
        full = timm.create_model(name)
        assert sum(p.numel() for p in full.parameters()) == PARAMS[name]


def test_head_reset_and_features():
    model = timm.create_model('coc_tiny', num_classes=0)
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 320)
    model.reset_classifier(5)
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 5)
    assert model.forward_features(torch.randn(1, 3, 64, 64)).shape == (1, 320, 2, 2)


def test_pretrained_from_local_file(tmp_path):
    torch.manual_seed(0)
    source = timm.create_model('coc_tiny', num_classes=4)
    with torch.no_grad():
        source.head.weight.add_(1.0)
    path = tmp_path / 'coc_tiny.pth'
    torch.save({'state_dict': source.state_dict()}, path)
    # the overlay states the file's classes; timm drops a head whose classes differ
    model = timm.create_model('coc_tiny', pretrained=True, num_classes=4,
                              pretrained_cfg_overlay=dict(file=str(path), num_classes=4))
    assert torch.equal(model.head.weight, source.head.weight)
    finetune = timm.create_model('coc_tiny', pretrained=True, num_classes=9,
                                 pretrained_cfg_overlay=dict(file=str(path), num_classes=4))
    assert torch.equal(finetune.patch_embed.proj.weight, source.patch_embed.proj.weight)
    assert finetune.head.weight.shape == (9, 320)
