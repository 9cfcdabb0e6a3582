"""Semantic FPN (CoC-tiny) through tools/train.py, tools/test.py and mmseg's inference API, on
a tiny ADE-layout set, on the CPU."""
import json
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

from tests.tools.tool_runner import data_root_options, run

pytestmark = pytest.mark.slow  # subprocesses, exports, compiles or docs: make test-fast skips

CONFIG = str(Path(__file__).parent / 'tiny_fpn.py')


@pytest.fixture(scope='module')
def trained(tiny_ade, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('train_fpn')
    run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(work_dir),
         *data_root_options(tiny_ade)])
    return work_dir


def test_train_saves_checkpoint_and_evaluates_miou(trained):
    assert (trained / 'iter_2.pth').is_file()
    log = sorted(trained.glob('*/vis_data/scalars.json'))[-1].read_text().splitlines()
    metrics = [json.loads(line) for line in log if '"mIoU"' in line][-1]
    assert 0 <= metrics['mIoU'] <= 100 and 'aAcc' in metrics
    dumped = Config.fromfile(trained / 'tiny_fpn.py')  # the config the run used
    # mmseg's SyncBN, as written: trained (above) on one CPU process as BN (revert_sync_batchnorm)
    assert dumped.model.decode_head.norm_cfg.type == 'SyncBN'


def test_test_tool_writes_metrics_and_overlays(trained, tiny_ade, tmp_path):
    run([sys.executable, 'tools/test.py', CONFIG, str(trained / 'iter_2.pth'), '--work-dir',
         str(tmp_path), '--show-dir', str(tmp_path / 'drawn'),
         *data_root_options(tiny_ade)])
    metrics = json.loads(sorted(tmp_path.glob('*/*.json'))[-1].read_text())
    assert 'mIoU' in metrics
    assert len(list((tmp_path / 'drawn').rglob('*.png'))) == 2


def test_test_tool_tta_merges_flipped_logits(trained, tiny_ade, tmp_path):
    result = run([sys.executable, 'tools/test.py', CONFIG, str(trained / 'iter_2.pth'),
                  '--work-dir', str(tmp_path), '--tta', *data_root_options(tiny_ade)])
    # mmseg's default_runtime names its SegTTAModel; the demo config has no tta_pipeline
    assert 'flipping each test image horizontally' in result.stdout + result.stderr
    metrics = json.loads(sorted(tmp_path.glob('*/*.json'))[-1].read_text())
    assert 0 <= metrics['mIoU'] <= 100
    dumped = (tmp_path / 'tiny_fpn.py').read_text()  # the config the run used
    assert "type='SegTTAModel'" in dumped and "type='TestTimeAug'" in dumped


# Run as a user would, in a fresh interpreter that never imports mmcoc itself: the config's
# custom_imports must be enough.
INFERENCE = '''
import json, sys
import numpy as np
from mmseg.apis import MMSegInferencer, inference_model, init_model, show_result_pyplot
config, checkpoint, image_path, out = sys.argv[1:]
report = {}
model = init_model(config, checkpoint, device='cpu')
report['imported_by_config'] = 'mmcoc' in sys.modules
report['backbone'] = type(model.backbone).__name__
report['classes'] = list(model.dataset_meta['classes'])
odd = np.random.default_rng(0).integers(0, 256, (61, 97, 3), dtype=np.uint8)
for name, image in [('path', image_path), ('ndarray', odd)]:
    seg = inference_model(model, image).pred_sem_seg.data
    report[name] = [list(seg.shape), int(seg.min()), int(seg.max())]
show_result_pyplot(model, odd, inference_model(model, odd), show=False,
                   out_file=out + '/overlay.png')
slide = init_model(config, checkpoint, device='cpu', cfg_options={
    'model.test_cfg': dict(mode='slide', crop_size=(64, 64), stride=(40, 40))})
big = np.random.default_rng(1).integers(0, 256, (150, 211, 3), dtype=np.uint8)
report['slide'] = list(inference_model(slide, big).pred_sem_seg.data.shape)
inferencer = MMSegInferencer(model=config, weights=checkpoint, device='cpu')
result = inferencer(odd, out_dir=out + '/inferencer')
report['inferencer'] = list(np.asarray(result['predictions']).shape)
print('REPORT', json.dumps(report))
'''


def test_mmseg_inference_api_with_config_and_checkpoint(trained, tiny_ade, tmp_path):
    image = sorted((tiny_ade / 'images' / 'validation').glob('*.jpg'))[0]
    import cv2
    height, width = cv2.imread(str(image)).shape[:2]
    result = run([sys.executable, '-c', INFERENCE, CONFIG, str(trained / 'iter_2.pth'),
                  str(image), str(tmp_path)])
    report = json.loads(result.stdout.split('REPORT', 1)[1])
    assert report['imported_by_config'] and report['backbone'] == 'ContextCluster'
    assert report['classes'] == ['background', 'rectangle', 'ellipse', 'triangle', 'star']
    # one label per pixel of the input, whatever its size, in the classes' range
    assert report['path'][0] == [1, height, width]
    assert report['ndarray'][0] == [1, 61, 97]
    for _, low, high in (report['path'], report['ndarray']):
        assert 0 <= low <= high < 5
    assert report['slide'] == [1, 150, 211]
    assert report['inferencer'] == [61, 97]
    assert (tmp_path / 'overlay.png').stat().st_size > 0
    assert list((tmp_path / 'inferencer').rglob('*.png'))


def test_config_runs_from_mmseg_own_train_tool(tiny_ade, tmp_path):
    """The config's runner_type brings mmcoc's guarantees to mmseg's own script: CPU adaptation
    (SyncBN -> BN), the resumable loop, and checkpoints torch reads weights-only."""
    import mmseg
    import torch
    own_train = Path(mmseg.__file__).parent / '.mim' / 'tools' / 'train.py'
    run([sys.executable, str(own_train), CONFIG, '--work-dir', str(tmp_path),
         *data_root_options(tiny_ade)])
    dumped = Config.fromfile(tmp_path / 'tiny_fpn.py')
    assert dumped.model.decode_head.norm_cfg.type == 'SyncBN'  # BN once built, on a CPU
    assert [h.type for h in dumped.custom_hooks][-1] == 'mmcoc.ExactResumeHook'
    assert torch.load(tmp_path / 'iter_2.pth', weights_only=True)['meta']['iter'] == 2
