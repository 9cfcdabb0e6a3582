"""tools/train.py, tools/test.py and tools/dist_train.sh on a tiny COCO set, on the CPU."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).parents[2]
CONFIG = str(Path(__file__).parent / 'tiny_maskrcnn.py')


def data_options(root):
    root = str(root)
    return ['--cfg-options',
            f'train_dataloader.dataset.data_root={root}',
            f'val_dataloader.dataset.data_root={root}',
            f'test_dataloader.dataset.data_root={root}',
            f'val_evaluator.ann_file={root}/val.json',
            f'test_evaluator.ann_file={root}/val.json']


def run(args, **kwargs):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    result = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT, **kwargs)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def last_metrics(work_dir):
    logs = sorted(Path(work_dir).glob('*/vis_data/scalars.json'))
    lines = [json.loads(line) for line in logs[-1].read_text().splitlines()]
    return [line for line in lines if 'coco/bbox_mAP' in line][-1]


@pytest.fixture(scope='module')
def trained(tiny_coco, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('train')
    run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(work_dir),
         *data_options(tiny_coco), 'train_cfg.max_epochs=1', 'train_cfg.val_interval=1'])
    return work_dir


def test_train_saves_checkpoint_and_evaluates(trained):
    assert (trained / 'epoch_1.pth').is_file()
    metrics = last_metrics(trained)
    assert 0 <= metrics['coco/bbox_mAP'] <= 1 and 'coco/segm_mAP' in metrics


def test_resume_continues_from_the_last_checkpoint(trained, tiny_coco):
    result = run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(trained),
                  '--resume', *data_options(tiny_coco), 'train_cfg.max_epochs=2',
                  'train_cfg.val_interval=2'])
    log = result.stdout + result.stderr
    assert 'resumed epoch: 1' in log
    assert (trained / 'epoch_2.pth').is_file()
    ckpt = torch.load(trained / 'epoch_2.pth', weights_only=False)
    assert ckpt['meta']['epoch'] == 2 and ckpt['meta']['iter'] == 4  # 2 iterations per epoch


def test_test_tool_writes_metrics_drawings_and_results(trained, tiny_coco, tmp_path):
    out = tmp_path / 'results.pkl'
    run([sys.executable, 'tools/test.py', CONFIG, str(trained / 'epoch_1.pth'), '--work-dir',
         str(tmp_path), '--out', str(out), '--show-dir', 'drawn', *data_options(tiny_coco)])
    metrics = json.loads(sorted(tmp_path.glob('*/*.json'))[-1].read_text())
    assert 'coco/bbox_mAP' in metrics
    assert out.is_file()
    assert len(list(tmp_path.glob('*/drawn/*.png'))) == 2


def test_two_process_gloo_ddp_on_cpu(tiny_coco, tmp_path):
    work_dir = tmp_path / 'ddp'
    result = run(['bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir', str(work_dir),
                  *data_options(tiny_coco), 'train_cfg.max_epochs=1', 'train_cfg.val_interval=1'],
                 timeout=600)
    log = result.stdout + result.stderr
    assert 'world_size: 2' in log or 'Distributed training: True' in log
    assert (work_dir / 'epoch_1.pth').is_file()
