"""CUDA checks, run by tools/analysis_tools/gpu_check.sh on a GPU machine (skipped without CUDA):
fp16 AMP training steps of the demo detector and segmentor give finite losses; the clustering
ops' CUDA forward and backward match the CPU."""
import json
import math
import sys
from pathlib import Path

import pytest
import torch

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')]

TOOLS = Path(__file__).parents[1] / 'tools'


def _losses(work_dir):
    logs = sorted(Path(work_dir).glob('*/vis_data/scalars.json'))
    lines = [json.loads(line) for line in logs[-1].read_text().splitlines()]
    return [line['loss'] for line in lines if 'loss' in line]


@pytest.mark.parametrize('config, fixture, extra', [
    ('tiny_maskrcnn.py', 'tiny_coco', ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1']),
    ('tiny_fpn.py', 'tiny_ade', []),
])
def test_fp16_amp_training_steps_are_finite(config, fixture, extra, request, tmp_path):
    from tests.tools.tool_runner import coco_options, data_root_options, run
    root = request.getfixturevalue(fixture)
    if fixture == 'tiny_coco':
        options = coco_options(root, extra)
    else:
        options = data_root_options(root, extra)
    result = run([sys.executable, 'tools/train.py', str(TOOLS / config), '--amp', '--work-dir',
                  str(tmp_path), *options], timeout=600)
    assert result.returncode == 0
    assert 'AmpOptimWrapper' in (tmp_path / config).read_text()  # the config the run used
    losses = _losses(tmp_path)
    assert losses and all(math.isfinite(x) for x in losses), losses


def _compare(fn, inputs, atol=1e-4):
    """fn on the CPU and on CUDA: outputs and the gradients of every float input agree."""
    results = []
    for device in ('cpu', 'cuda'):
        xs = [x.detach().to(device).requires_grad_(x.is_floating_point()) for x in inputs]
        out = fn(*xs)
        torch.manual_seed(1)
        weight = torch.randn(out.shape).to(device)
        (out * weight).sum().backward()
        results.append([out.detach().cpu()] + [x.grad.cpu() for x in xs if x.grad is not None])
    for cpu, gpu in zip(*results):
        assert torch.allclose(cpu, gpu, atol=atol, rtol=1e-4), (cpu - gpu).abs().max()


@pytest.mark.parametrize('size', [(32, 32), (29, 43)])
@pytest.mark.parametrize('normalizer, weighting', [('similarity', 'similarity'),
                                                   ('count', 'plain')])
def test_context_cluster_cuda_matches_cpu(size, normalizer, weighting):
    from mmcoc.models.layers.clustering import context_cluster
    torch.manual_seed(0)
    feats, values = torch.randn(2, 8, *size), torch.randn(2, 8, *size)
    alpha, beta = torch.ones(1), torch.zeros(1)
    _compare(lambda f, v, a, b: context_cluster(f, v, a, b, heads=2, proposals=3, folds=2,
                                                normalizer=normalizer, weighting=weighting),
             [feats, values, alpha, beta])


@pytest.mark.parametrize('size', [(32, 32), (29, 43)])
def test_cluster_pool_cuda_matches_cpu(size):
    from mmcoc.models.layers.cluster_pooling import cluster_pool
    torch.manual_seed(0)
    _compare(lambda f, v: cluster_pool(f, v, folds=2),
             [torch.randn(2, 8, *size), torch.randn(2, 8, *size)])


@pytest.mark.parametrize('tokens', [64, 61])
def test_equal_cluster_attention_cuda_matches_cpu(tokens):
    from mmcoc.models.layers.equal_clustering import equal_cluster_attention
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 2, tokens, 8) for _ in range(3))
    _compare(lambda q, k, v: equal_cluster_attention(q, k, v, num_clusters=4), [q, k, v])


@pytest.mark.parametrize('name', ['coc', 'fec', 'secvit'])
def test_tiny_backbones_cuda_match_cpu(name):
    from .tiny_models import tiny_backbone
    model = tiny_backbone(name)
    x = torch.randn(2, 3, 75, 101)
    with torch.no_grad():
        cpu = model(x)
        gpu = model.cuda()(x.cuda())
    for a, b in zip(cpu, gpu):
        assert torch.allclose(a, b.cpu(), atol=1e-3, rtol=1e-3), (a - b.cpu()).abs().max()
