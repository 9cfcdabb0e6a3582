"""A checkpoint named by a URL runs no code through any tool, and a checkpoint without the
heads is not evaluated: each tool answers in one line."""
import os
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from tests.helpers import Payload
from tests.tools.tool_runner import PYTHONPATH, ROOT, coco_options
from tests.tools.tool_server import launch

pytestmark = pytest.mark.slow  # subprocesses, exports, compiles or docs: make test-fast skips

CONFIG = str(Path(__file__).parent / 'tiny_maskrcnn.py')


def tool(args, tmp_path, *options):
    env = dict(os.environ, PYTHONPATH=PYTHONPATH, OMP_NUM_THREADS='1',
               TORCH_HOME=str(tmp_path / 'torch_home'))
    env.pop('MMCOC_TRUST_CHECKPOINTS', None)
    return launch([sys.executable, *args, *options], env, ROOT, timeout=300)


def test_a_payload_url_runs_in_no_tool(weights_server, tiny_coco, tmp_path):
    marker = tmp_path / 'pwned'
    torch.save({'state_dict': {}, 'meta': {'epoch': 1, 'iter': 2}, 'x': Payload(marker)},
               weights_server.folder / 'epoch_1.pth')
    url = f'{weights_server.url}/epoch_1.pth'
    data = coco_options(tiny_coco)
    image = tmp_path / 'image.png'
    cv2.imwrite(str(image), np.zeros((64, 64, 3), np.uint8))
    for args in (['tools/train.py', CONFIG, '--work-dir', str(tmp_path / 'run'), '--resume', url,
                  *data],
                 ['tools/test.py', CONFIG, url, '--work-dir', str(tmp_path / 'test'), *data],
                 # a host's backbone (mmpretrain's ResNet) with a Pretrained init_cfg
                 ['tools/train.py', 'configs/deepcluster/linear_probe_resnet50_sobel_in1k.py',
                  '--work-dir', str(tmp_path / 'probe'),
                  '--cfg-options', f'model.backbone.init_cfg.checkpoint={url}'],
                 ['tools/model_converters/official2mmcoc.py', url, str(tmp_path / 'out.pth')],
                 ['tools/deployment/pytorch2onnx.py', CONFIG, url, str(tmp_path / 'out.onnx'),
                  '--output', 'backbone'],
                 ['tools/visualize_clusters.py', '--config', CONFIG, '--checkpoint', url,
                  '--image', str(image), '--out', str(tmp_path / 'maps')],
                 ['tools/analysis_tools/demo_backbone.py', '--arch', 'tiny', '--checkpoint', url,
                  '--out', str(tmp_path / 'demo')],
                 ['tools/analysis_tools/check_inference_memory.py', '--config', CONFIG,
                  '--checkpoint', url, '--images', '1', '--every', '1']):
        result = tool(args, tmp_path)
        assert result.returncode != 0 and not marker.exists(), result.stderr[-2000:]
        assert 'holds a pickled posix.system' in result.stderr, (args[0], result.stderr[-2000:])
    assert not (tmp_path / 'out.pth').exists() and not (tmp_path / 'out.onnx').exists()


def test_test_tool_refuses_a_headless_checkpoint(tiny_coco, tmp_path):
    from mmcoc.utils.config import build_model, load_config
    state = {k: v for k, v in build_model(load_config(CONFIG)).state_dict().items()
             if not k.startswith('roi_head.')}
    path = tmp_path / 'headless.pth'
    torch.save({'state_dict': state, 'meta': {}}, path)
    data = coco_options(tiny_coco)
    result = tool(['tools/test.py', CONFIG, str(path), '--work-dir', str(tmp_path / 't'),
                   *data], tmp_path)
    assert result.returncode != 0, result.stdout[-2000:]
    assert 'roi_head: 0% of its' in result.stderr, result.stderr[-2000:]
