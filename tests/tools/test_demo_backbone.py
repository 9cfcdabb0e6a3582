import sys
from pathlib import Path

import cv2
import pytest

from tests.tools.tool_runner import run

pytestmark = pytest.mark.slow  # subprocesses, exports, compiles or docs: make test-fast skips

ROOT = Path(__file__).parents[2]


def test_demo_writes_cluster_map(tmp_path):
    result = run([sys.executable, str(ROOT / 'tools/analysis_tools/demo_backbone.py'), '--arch',
                  'tiny', '--proposals', '5', '--out', str(tmp_path)])
    assert '(1, 320, 8, 12)' in result.stdout and 'random init' in result.stdout
    grid = cv2.imread(str(tmp_path / 'clusters.png'))
    assert grid.shape == (512, 768, 3)  # 2x2 tiles of the 256x384 scene
    scene = cv2.imread(str(tmp_path / 'scene.png')).astype(int)
    assert (scene == 255).all(-1).mean() < 0.001
    for tile in (grid[r:r + 256, c:c + 384] for r in (0, 256) for c in (0, 384)):
        assert (tile == 255).all(-1).mean() > 0.005  # white cluster boundaries
        assert abs(tile - scene).mean() > 10  # regions coloured by cluster


def test_demo_refuses_unreadable_image(tmp_path):
    bad = tmp_path / 'not_an_image.jpg'
    bad.write_text('hello')
    result = run([sys.executable, str(ROOT / 'tools/analysis_tools/demo_backbone.py'), '--image',
                  str(bad), '--out', str(tmp_path)], check=False)
    assert result.returncode != 0 and 'cannot read' in result.stderr
