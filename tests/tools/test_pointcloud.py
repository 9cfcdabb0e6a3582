"""The point-cloud demo through the tools: the synthetic set, tools/train.py and tools/test.py
learn well above chance in a short run (4 classes, 64 points, ~150 steps)."""
import json
import sys

import pytest

from mmcoc.datasets import write_synthetic_scanobjectnn
from tests.tools.tool_runner import ROOT, data_root_options, run

pytestmark = pytest.mark.slow  # subprocesses, exports, compiles or docs: make test-fast skips

CONFIG = str(ROOT / 'tests' / 'tools' / 'tiny_pointcloud.py')
CLASSES = ('sphere', 'box', 'torus', 'table')


def test_demo_learns_and_the_test_tool_reports_oa_and_macc(tmp_path):
    data = write_synthetic_scanobjectnn(str(tmp_path / 'data'), dict(training=120, test=40),
                                        seed=0, classes=CLASSES)
    work = tmp_path / 'work'
    run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(work),
         *data_root_options(data)])
    checkpoint = (work / 'last_checkpoint').read_text().strip()
    run([sys.executable, 'tools/test.py', CONFIG, checkpoint, '--work-dir', str(work),
         *data_root_options(data)])
    (metrics_file, ) = [p for p in work.glob('*/*.json') if 'scalars' not in p.name]
    metrics = json.loads(metrics_file.read_text())
    print(metrics)
    # chance is 25%; a random-weight model sits there
    assert metrics['accuracy/top1'] >= 60 and metrics['accuracy/mAcc'] >= 60
