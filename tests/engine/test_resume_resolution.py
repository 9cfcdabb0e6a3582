"""``--resume`` without a file (``mmcoc.RecoverableRunner``'s auto resume): nothing to resume
is one line and a training from scratch; a ``last_checkpoint`` naming a missing file falls back
to the newest intact checkpoint, or stops naming the files there."""
import os
import sys
from pathlib import Path

import pytest
import torch

from tests.tools.tool_runner import run

pytestmark = pytest.mark.slow  # subprocesses, exports, compiles or docs: make test-fast skips

ROOT = Path(__file__).parents[2]
CONFIG = str(ROOT / 'tests' / 'tools' / 'tiny_cls.py')  # 1 epoch of 2 iterations


def train(work_dir, data_root, *options):
    options = [f'{split}_dataloader.dataset.data_root={data_root}'
               for split in ('train', 'val', 'test')] + list(options)
    result = run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(work_dir),
                  '--resume', '--cfg-options', *options], check=False, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


def test_nothing_to_resume_trains_from_scratch_then_a_lost_pointer_falls_back(
        tiny_imagenet, tmp_path):
    log = train(tmp_path, tiny_imagenet)
    assert log.count('nothing to resume') == 1, log[-3000:]
    assert 'checkpoint None' not in log and 'Did not find last_checkpoint' not in log
    assert (tmp_path / 'epoch_1.pth').is_file()
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_9.pth'))  # not there
    log = train(tmp_path, tiny_imagenet, 'train_cfg.max_epochs=2')
    assert (f'last_checkpoint names {tmp_path / "epoch_9.pth"}, which does not exist: resuming '
            f'from {tmp_path / "epoch_1.pth"}, the newest intact checkpoint there') in log
    assert 'resumed epoch: 1' in log and (tmp_path / 'epoch_2.pth').is_file()


def save(path, mtime):
    torch.save({'meta': {'epoch': 1}, 'state_dict': {'w': torch.zeros(64)}}, path)
    os.utime(path, (mtime, mtime))
    return str(path)


def test_newest_intact_checkpoint_is_chosen(tmp_path):
    from mmcoc.engine.runner import find_resume_checkpoint
    assert find_resume_checkpoint(str(tmp_path / 'new')) is None  # a new work dir
    assert find_resume_checkpoint(str(tmp_path)) is None  # an empty one
    save(tmp_path / 'epoch_1.pth', 100)
    intact = save(tmp_path / 'iter_4.pth', 200)
    truncated = save(tmp_path / 'epoch_2.pth', 300)
    Path(truncated).write_bytes(Path(truncated).read_bytes()[:-100])
    save(tmp_path / 'pretrained.pth', 400)  # not a training's checkpoint
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_3.pth'))
    assert find_resume_checkpoint(str(tmp_path)) == intact
    (tmp_path / 'last_checkpoint').unlink()  # checkpoints but no pointer: resumed, not lost
    assert find_resume_checkpoint(str(tmp_path)) == intact
    (tmp_path / 'last_checkpoint').write_text(truncated)  # named and there: as it is
    assert find_resume_checkpoint(str(tmp_path)) == truncated


def test_missing_pointer_target_without_intact_checkpoints_stops_naming_the_files(tmp_path):
    from mmcoc.engine.runner import find_resume_checkpoint
    (tmp_path / 'epoch_1.pth').write_bytes(b'PK\x03\x04 cut short')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_2.pth'))
    with pytest.raises(SystemExit) as stop:
        find_resume_checkpoint(str(tmp_path))
    message = str(stop.value.code)
    assert message.startswith(f'nothing to resume: last_checkpoint names {tmp_path}/epoch_2.pth'
                              ', which does not exist, and no checkpoint in ')
    assert '(there: epoch_1.pth, last_checkpoint)' in message and '--resume FILE' in message
    assert '\n' not in message


def test_resuming_a_finished_run_does_not_validate_again(tiny_imagenet, tmp_path):
    train(tmp_path, tiny_imagenet)  # 1 epoch, validated at its end
    assert (tmp_path / 'last_validation.json').read_text() == '["epoch", 1]'
    log = train(tmp_path, tiny_imagenet)
    assert 'whose validation the work dir records as done: not validating again' in log, log[-3000:]
    assert 'validating first' not in log and 'Epoch(val)' not in log
    # where the record says otherwise (killed during that validation), it validates first
    (tmp_path / 'last_validation.json').write_text('["epoch", 0]')
    log = train(tmp_path, tiny_imagenet)
    assert 'resumed where validation was due (epoch 1): validating first' in log
    assert 'Epoch(val)' in log and (tmp_path / 'last_validation.json').read_text() == '["epoch", 1]'
