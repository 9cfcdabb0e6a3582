"""The tree is clean under the project's lint (``[tool.ruff]`` of ``pyproject.toml``: pyflakes,
pycodestyle at 100 columns, isort with mmcoc first-party), as the pre-commit hook checks it."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]

pytestmark = pytest.mark.slow  # subprocesses, exports, compiles or docs: make test-fast skips


def ruff(*args):
    return subprocess.run([sys.executable, '-m', 'ruff', *args], cwd=ROOT, capture_output=True,
                          text=True)


def test_tree_is_clean_under_ruff():
    if ruff('--version').returncode != 0:
        pytest.skip('ruff is not installed (requirements/stack.txt pins it; make setup)')
    result = ruff('check', '--no-cache', '--output-format', 'concise', '.')
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_lint_catches_a_violation(tmp_path):
    if ruff('--version').returncode != 0:
        pytest.skip('ruff is not installed')
    bad = tmp_path / 'bad.py'
    bad.write_text('import os\nimport sys, json\n')
    result = ruff('check', '--no-cache', '--config', str(ROOT / 'pyproject.toml'), str(bad))
    assert result.returncode == 1 and 'F401' in result.stdout and 'E401' in result.stdout
