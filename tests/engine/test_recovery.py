"""Training killed with SIGKILL (during evaluation, mid-epoch, while saving a checkpoint) and
resumed with ``tools/train.py --resume`` ends with the weights of an uninterrupted run, bit for
bit; a kill during a save leaves the earlier checkpoints and ``last_checkpoint`` intact."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mmcoc.utils import load_checkpoint_file
from tests.tools.tool_runner import coco_options

pytestmark = pytest.mark.slow  # subprocesses, exports, compiles or docs: make test-fast skips

ROOT = Path(__file__).parents[2]
CONFIG = str(Path(__file__).parent / 'tiny_resume.py')  # 2 epochs of 2 iterations


def train_cmd(data_root, work_dir, resume):
    return [sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(work_dir),
            *(['--resume'] if resume else []), *coco_options(data_root)]


def start(data_root, work_dir, kill_at='', resume=False):
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', MMCOC_TEST_KILL=kill_at,
               PYTHONPATH=f'{ROOT}:{Path(__file__).parent}')
    log = Path(work_dir).parent / f'{Path(work_dir).name}-{kill_at or "end"}.log'
    with open(log, 'w') as out:
        process = subprocess.Popen(train_cmd(data_root, work_dir, resume), env=env, cwd=ROOT,
                                   stdout=out, stderr=subprocess.STDOUT)
    process.log = log
    return process


def finish(process, expect_kill=False, timeout=600):
    code = process.wait(timeout=timeout)
    expected = -signal.SIGKILL if expect_kill else 0
    assert code == expected, f'exit {code}\n' + process.log.read_text()[-4000:]


def weights(path):
    return load_checkpoint_file(str(path))['state_dict']


def val_metrics(work_dir):
    lines = []
    for log in sorted(Path(work_dir).glob('*/vis_data/scalars.json')):
        lines += [json.loads(line) for line in log.read_text().splitlines()]
    return {line['step']: line['coco/bbox_mAP'] for line in lines if 'coco/bbox_mAP' in line}


@pytest.fixture(scope='module')
def runs(tiny_coco, tmp_path_factory):
    """An uninterrupted run beside one killed three times and resumed three times."""
    base = tmp_path_factory.mktemp('recovery')
    reference = start(tiny_coco, base / 'reference')
    chain = base / 'chain'
    # 1: killed during the evaluation after epoch 1 (checkpoints iter_1, iter_2 written)
    finish(start(tiny_coco, chain, kill_at='after_val_iter:2'), expect_kill=True)
    # 2: resumed from iter_2, evaluates epoch 1, trains iteration 3 (saving iter_3), killed
    #    when iteration 4 (the second of epoch 2) starts
    finish(start(tiny_coco, chain, kill_at='before_train_iter:3', resume=True), expect_kill=True)
    # 3: resumed inside epoch 2 from iter_3, trains iteration 4 and hangs half-way through
    #    writing iter_4; killed from outside
    process = start(tiny_coco, chain, kill_at='hang_in_save:3', resume=True)
    deadline = time.time() + 600
    while not (chain / 'hanging').exists():
        assert process.poll() is None and time.time() < deadline, 'the run never hung in a save'
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    finish(process, expect_kill=True)
    after_kill = dict(files={p.name: p.stat().st_size for p in chain.iterdir()},
                      last=(chain / 'last_checkpoint').read_text())
    # 4: resumed from iter_3 again, to the end
    finish(start(tiny_coco, chain, resume=True))
    finish(reference)
    return dict(reference=base / 'reference', chain=chain, after_kill=after_kill)


def test_kill_during_save_leaves_previous_checkpoints(runs):
    chain, after_kill = runs['chain'], runs['after_kill']
    files = after_kill['files']
    # iter_4 was cut off mid-write: only its hidden temporary file exists, half of it
    assert 'iter_4.pth' not in files
    temps = [name for name in files if name.startswith('.iter_4.pth.')]
    assert len(temps) == 1, files
    assert 0 < files[temps[0]] < (chain / 'iter_4.pth').stat().st_size / 2 + 1024
    # the checkpoint that max_keep_ckpts=2 drops (iter_2) is deleted only after iter_4 is
    # complete; last_checkpoint still names the complete iter_3
    assert {'iter_2.pth', 'iter_3.pth'} <= set(files)
    assert after_kill['last'] == str(chain / 'iter_3.pth')
    # the resumed run cleaned the dead writer's temporary file up and kept two checkpoints
    final = sorted(p.name for p in chain.iterdir() if p.suffix == '.pth' or p.name.startswith('.'))
    assert final == ['iter_3.pth', 'iter_4.pth'], final


def test_resumed_weights_equal_an_uninterrupted_run(runs):
    reference = weights(runs['reference'] / 'iter_4.pth')
    resumed = weights(runs['chain'] / 'iter_4.pth')
    assert reference.keys() == resumed.keys()
    for key in reference:
        assert torch.equal(reference[key], resumed[key]), key
    # and the whole optimizer state (AdamW moments, step counts) and the schedule
    ref_ckpt = load_checkpoint_file(str(runs['reference'] / 'iter_4.pth'))
    res_ckpt = load_checkpoint_file(str(runs['chain'] / 'iter_4.pth'))
    for ref_state, res_state in zip(ref_ckpt['optimizer']['state'].values(),
                                    res_ckpt['optimizer']['state'].values()):
        for key in ref_state:
            assert torch.equal(ref_state[key], res_state[key])
    assert ref_ckpt['param_schedulers'] == res_ckpt['param_schedulers']


def test_interrupted_evaluations_are_run_on_resume(runs):
    reference, chain = val_metrics(runs['reference']), val_metrics(runs['chain'])
    assert sorted(reference) == [1, 2]  # epochs
    assert chain == reference  # the evaluation killed in run 1 was run again, same numbers
