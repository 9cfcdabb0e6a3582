"""tools/slurm_train.sh and slurm_test.sh build mmdet's srun command line (partition, job name,
GPUS, GPUS_PER_NODE, CPUS_PER_TASK, SRUN_ARGS) around the project's tools: checked with an
``srun`` on PATH that records its arguments instead of starting anything."""
import os
import subprocess

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.slow  # subprocesses, exports, compiles or docs: make test-fast skips

FAKE_SRUN = ('#!/usr/bin/env bash\n'
             'printf "%s\\n" "$@" > "$SRUN_RECORD"\n'
             'echo "PYTHONPATH=$PYTHONPATH" >> "$SRUN_RECORD"\n')


def run_script(script, args, tmp_path, **env):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / 'srun').write_text(FAKE_SRUN)
    (bin_dir / 'srun').chmod(0o755)
    record = tmp_path / 'srun_args'
    environ = dict(os.environ, PATH=f'{bin_dir}:{os.environ["PATH"]}', SRUN_RECORD=str(record),
                   **env)
    for name in ('GPUS', 'GPUS_PER_NODE', 'CPUS_PER_TASK', 'SRUN_ARGS'):
        if name not in env:
            environ.pop(name, None)
    result = subprocess.run(['bash', str(ROOT / 'tools' / script), *args], env=environ,
                            capture_output=True, text=True, cwd=tmp_path)
    return result, (record.read_text().splitlines() if record.exists() else None)


def test_train_builds_mmdets_srun_line(tmp_path):
    result, argv = run_script('slurm_train.sh', ['gpu', 'coc', 'configs/x.py', 'work_dirs/x',
                                                 '--amp', '--cfg-options', 'a=1'], tmp_path,
                              GPUS='16', SRUN_ARGS='--quotatype=auto --exclusive')
    assert result.returncode == 0, result.stderr
    assert argv[:10] == ['-p', 'gpu', '--job-name=coc', '--gres=gpu:8', '--ntasks=16',
                         '--ntasks-per-node=8', '--cpus-per-task=5', '--kill-on-bad-exit=1',
                         '--quotatype=auto', '--exclusive']
    assert argv[10:-1] == ['python', '-u', str(ROOT / 'tools/train.py'), 'configs/x.py',
                           '--work-dir', 'work_dirs/x', '--launcher', 'slurm', '--amp',
                           '--cfg-options', 'a=1']
    assert argv[-1].startswith(f'PYTHONPATH={ROOT}')


def test_test_takes_the_checkpoint_and_fewer_gpus_than_a_node(tmp_path):
    result, argv = run_script('slurm_test.sh', ['p', 'j', 'cfg.py', 'epoch_12.pth', '--tta'],
                              tmp_path, GPUS='2', CPUS_PER_TASK='3')
    assert result.returncode == 0, result.stderr
    assert '--gres=gpu:2' in argv and '--ntasks=2' in argv and '--ntasks-per-node=2' in argv
    assert '--cpus-per-task=3' in argv
    assert argv[argv.index('-u') + 1:-1] == [str(ROOT / 'tools/test.py'), 'cfg.py',
                                             'epoch_12.pth', '--launcher', 'slurm', '--tta']


@pytest.mark.parametrize('script', ['slurm_train.sh', 'slurm_test.sh'])
def test_bad_arguments_stop_before_srun(script, tmp_path):
    result, argv = run_script(script, ['p', 'j'], tmp_path)
    assert result.returncode == 2 and 'usage:' in result.stderr and argv is None
    result, argv = run_script(script, ['p', 'j', 'c.py', 'w'], tmp_path, GPUS='0')
    assert result.returncode == 2 and 'GPUS must be a positive number' in result.stderr
    assert argv is None
