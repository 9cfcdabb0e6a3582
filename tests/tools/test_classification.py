"""Image classification (CoC-tiny) through tools/train.py, tools/test.py and mmpretrain's
inference API, on a tiny ImageNet-layout set, on the CPU."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.tools.tool_runner import PYTHONPATH, ROOT, data_root_options, run

pytestmark = pytest.mark.slow  # subprocesses, exports, compiles or docs: make test-fast skips

CONFIG = str(Path(__file__).parent / 'tiny_cls.py')


@pytest.fixture(scope='module')
def trained(tiny_imagenet, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('train_cls')
    run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(work_dir),
         *data_root_options(tiny_imagenet)])
    return work_dir


def test_train_saves_checkpoint_and_evaluates_top1(trained):
    assert (trained / 'epoch_1.pth').is_file()
    log = sorted(trained.glob('*/vis_data/scalars.json'))[-1].read_text().splitlines()
    metrics = [json.loads(line) for line in log if 'accuracy/top1' in line][-1]
    assert 0 <= metrics['accuracy/top1'] <= 100


def test_test_tool_writes_metrics_and_drawings(trained, tiny_imagenet, tmp_path):
    run([sys.executable, 'tools/test.py', CONFIG, str(trained / 'epoch_1.pth'), '--work-dir',
         str(tmp_path), '--show-dir', str(tmp_path / 'drawn'),
         *data_root_options(tiny_imagenet)])
    metrics = json.loads(sorted(tmp_path.glob('*/*.json'))[-1].read_text())
    assert 'accuracy/top1' in metrics
    assert len(list((tmp_path / 'drawn').rglob('*.png'))) == 4


def test_test_tool_tta_averages_flipped_scores(trained, tiny_imagenet, tmp_path):
    result = run([sys.executable, 'tools/test.py', CONFIG, str(trained / 'epoch_1.pth'),
                  '--work-dir', str(tmp_path), '--tta', *data_root_options(tiny_imagenet)])
    assert 'using mmpretrain.AverageClsScoreTTA' in result.stdout + result.stderr
    assert 'flipping each test image horizontally' in result.stdout + result.stderr
    metrics = json.loads(sorted(tmp_path.glob('*/*.json'))[-1].read_text())
    assert 0 <= metrics['accuracy/top1'] <= 100
    dumped = (tmp_path / 'tiny_cls.py').read_text()  # the config the run used
    assert "type='mmpretrain.AverageClsScoreTTA'" in dumped and "type='TestTimeAug'" in dumped


# A fresh interpreter that never imports mmcoc itself: the config's custom_imports is enough.
INFERENCE = '''
import json, sys
import numpy as np
from mmpretrain.apis import ImageClassificationInferencer, get_model
config, checkpoint, image_path, out = sys.argv[1:]
report = {}
inferencer = ImageClassificationInferencer(model=config, pretrained=checkpoint, device='cpu')
report['imported_by_config'] = 'mmcoc' in sys.modules
result = inferencer(image_path, show_dir=out)[0]
report['path'] = [result['pred_label'], result['pred_class'], len(result['pred_scores']),
                  float(sum(result['pred_scores']))]
odd = np.random.default_rng(0).integers(0, 256, (61, 97, 3), dtype=np.uint8)
report['ndarray'] = inferencer(odd)[0]['pred_class']
model = get_model(config, pretrained=checkpoint, device='cpu')
report['backbone'] = type(model.backbone).__name__
report['classes'] = list(inferencer.classes)  # from the checkpoint's dataset meta
report['get_model'] = ImageClassificationInferencer(model)(image_path)[0]['pred_label']
print('REPORT', json.dumps(report))
'''


def test_mmpretrain_inference_api_with_config_and_checkpoint(trained, tiny_imagenet, tmp_path):
    image = sorted((tiny_imagenet / 'val' / 'star').glob('*.png'))[0]
    result = run([sys.executable, '-c', INFERENCE, CONFIG, str(trained / 'epoch_1.pth'),
                  str(image), str(tmp_path)])
    report = json.loads(result.stdout.split('REPORT', 1)[1])
    classes = ['ellipse', 'rectangle', 'star', 'triangle']
    assert report['imported_by_config'] and report['backbone'] == 'ContextCluster'
    assert report['classes'] == classes
    label, name, scores, total = report['path']
    assert name == classes[label] and scores == 4 and abs(total - 1) < 1e-5
    assert report['ndarray'] in classes
    assert report['get_model'] == label  # the same weights through both entry points
    assert len(list(tmp_path.glob('*.png'))) == 1  # the drawn prediction


def test_a_published_config_without_its_dataset_says_what_is_missing(tmp_path):
    (tmp_path / 'any.pth').write_bytes(b'')  # the checkpoint argument exists: the data is missing
    result = run([sys.executable, 'tools/test.py', 'configs/context_cluster/coc_tiny_in1k.py',
                  str(tmp_path / 'any.pth'), '--work-dir', str(tmp_path), '--cfg-options',
                  f'test_dataloader.dataset.data_root={tmp_path}/imagenet'], check=False)
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert f"data_root '{tmp_path}/imagenet' does not exist" in message
    assert 'docs/classification.md' in message


def _children(pid):
    try:
        tasks = Path(f'/proc/{pid}/task').iterdir()
        return {int(c) for task in tasks for c in (task / 'children').read_text().split()}
    except FileNotFoundError:
        return set()


def _alive(pid):
    try:  # a killed worker reparented to a PID 1 that does not reap it stays a zombie
        return Path(f'/proc/{pid}/stat').read_text().split(')')[-1].split()[0] != 'Z'
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='PR_SET_PDEATHSIG is Linux')
def test_persistent_workers_die_with_a_killed_trainer(tiny_imagenet, tmp_path):
    trainer = subprocess.Popen(
        [sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(tmp_path),
         *data_root_options(tiny_imagenet, ['train_cfg.max_epochs=1000',
                                            'train_dataloader.num_workers=1',
                                            'train_dataloader.persistent_workers=True'])],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=PYTHONPATH, OMP_NUM_THREADS='1'),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and not list(tmp_path.glob('*/vis_data/scalars.json')):
            time.sleep(0.5)  # training has started: the data worker exists
        workers = {child for child in _children(trainer.pid) if 'python' in
                   Path(f'/proc/{child}/cmdline').read_bytes().decode(errors='ignore')}
        assert workers, 'no data worker started'
    finally:
        trainer.kill()
        trainer.wait()
    time.sleep(1.5)  # torch's own watchdog would take up to 5 s, and only between batches
    assert not any(_alive(pid) for pid in workers)


def test_config_runs_from_mmpretrain_own_train_tool(tiny_imagenet, tmp_path):
    import mmpretrain
    import torch
    from mmengine.config import Config
    own_train = Path(mmpretrain.__file__).parent / '.mim' / 'tools' / 'train.py'
    run([sys.executable, str(own_train), CONFIG, '--work-dir', str(tmp_path),
         *data_root_options(tiny_imagenet)])
    dumped = Config.fromfile(tmp_path / 'tiny_cls.py')
    assert [h.type for h in dumped.custom_hooks][-1] == 'mmcoc.ExactResumeHook'
    assert torch.load(tmp_path / 'epoch_1.pth', weights_only=True)['meta']['epoch'] == 1
