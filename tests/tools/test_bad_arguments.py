"""Bad arguments stop every tool before any work, with one line naming the fix and exit code 2
(in-process through each tool's parser; ``dist_train.sh`` as a user runs it)."""
import subprocess
import sys

import pytest

from tests.helpers import import_tool
from tests.tools.tool_runner import ROOT

pytestmark = pytest.mark.slow  # subprocesses, exports, compiles or docs: make test-fast skips

DET = 'tests/tools/tiny_maskrcnn.py'


def refused(capsys, call, *argv):
    with pytest.raises(SystemExit) as err:
        call(*argv)
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.value.code == 2 and 'Traceback' not in message
    return message


@pytest.mark.parametrize('argv, expected', [
    (['--size', '100000'], '--size'),
    (['--display', '100000'], '--display'),
    (['--groups', '-1'], '--groups'),
    (['--checkpoint', '.'], 'is a directory, not a checkpoint'),
])
def test_visualiser_arguments(capsys, argv, expected):
    tool = import_tool('tools/visualize_clusters.py')
    message = refused(capsys, tool.parse_args,
                      ['--config', DET, '--image', 'docs/astronaut_s2b4h0.png', *argv])
    assert expected in message, message


@pytest.mark.parametrize('option, expected', [
    ('train_cfg.max_epochs=-1', 'max_epochs'),
    ('optim_wrapper.optimizer.lr=abc', 'lr'),
])
def test_train_config_values(capsys, monkeypatch, option, expected):
    tool = import_tool('tools/train.py')
    monkeypatch.setattr(sys, 'argv', ['train.py', DET, '--cfg-options', option])
    message = refused(capsys, tool.parse_args)
    assert expected in message, message


def test_a_folder_is_no_checkpoint_for_test(capsys, monkeypatch, tmp_path):
    tool = import_tool('tools/test.py')
    monkeypatch.setattr(sys, 'argv', ['test.py', DET, str(tmp_path)])
    assert 'checkpoint' in refused(capsys, tool.parse_args)


def test_exporter_checks_shape_and_verify_before_exporting(capsys):
    tool = import_tool('tools/deployment/pytorch2onnx.py')
    for extra in (['--shape', '0', '64'], ['--verify', '1', '64']):
        message = refused(capsys, tool.parse_args, [DET, 'random', 'x.onnx', *extra])
        assert extra[0] in message, message


def test_dist_train_with_zero_processes():
    result = subprocess.run(['bash', 'tools/dist_train.sh', DET, '0'], capture_output=True,
                            text=True, cwd=ROOT)
    assert result.returncode == 2 and 'GPUS must be a positive number' in result.stderr


def test_points_with_an_image_config_and_an_image_with_a_point_config(capsys):
    tool = import_tool('tools/visualize_clusters.py')
    message = refused(capsys, tool.parse_args, ['--config', DET, '--points', 'README.md'])
    assert 'needs a point-cloud config' in message and 'give it an --image' in message, message
    points_config = 'configs/pointcloud/pointmlp_coc_demo.py'
    message = refused(capsys, tool.parse_args,
                      ['--config', points_config, '--image', 'docs/astronaut_s2b4h0.png'])
    assert 'is a point-cloud model: give it --points' in message, message


@pytest.mark.parametrize('device, expected', [
    ('gpu', "unknown device 'gpu': use cpu, cuda or cuda:N"),
    ('cuda:7', 'cuda:7'),  # no GPU here, or fewer than 8
])
def test_unknown_device(capsys, device, expected):
    tool = import_tool('tools/analysis_tools/benchmark_pointcloud.py')
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, 'argv', ['benchmark_pointcloud.py', '--device', device])
        message = refused(capsys, tool.main)
    assert expected in message, message


def test_model_zoo_names_an_unknown_model(capsys):
    tool = import_tool('tools/analysis_tools/model_zoo.py')
    message = refused(capsys, tool.main, ['--check', '--only', 'nosuch'])
    assert '--only nosuch: no such model in model-index.yml' in message, message
