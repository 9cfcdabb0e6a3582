"""tools/analysis_tools/gpu_check.sh --dry-run on the CPU: the GPU machine's script runs end to
end (CUDA tests collected and skipped, every throughput row built and run at a tiny size)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mmcoc.deployment.throughput import MODELS

pytestmark = pytest.mark.slow  # subprocesses, exports, compiles or docs: make test-fast skips

ROOT = Path(__file__).parents[2]


def test_gpu_check_dry_run(tmp_path):
    env = dict(os.environ, PYTHON=sys.executable, OUT_DIR=str(tmp_path), OMP_NUM_THREADS='1')
    result = subprocess.run(['bash', 'tools/analysis_tools/gpu_check.sh', '--dry-run'], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert 'skipped' in out and 'failed' not in out.split('## 2.')[0]
    for name in MODELS:
        row = [line for line in out.splitlines() if line.startswith(f'| {name} |')]
        assert row and 'failed' not in row[0], (name, out[-2000:])
    assert list(tmp_path.glob('gpu_check_*.md'))


def test_gpu_check_refuses_without_cuda(tmp_path):
    import torch
    if torch.cuda.is_available():
        return
    env = dict(os.environ, PYTHON=sys.executable, OUT_DIR=str(tmp_path))
    result = subprocess.run(['bash', 'tools/analysis_tools/gpu_check.sh'], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and 'CUDA is not available' in result.stderr
