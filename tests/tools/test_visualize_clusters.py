"""tools/visualize_clusters.py on images of every mode, one map and the --all grid."""
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / 'tools'))
import visualize_clusters  # noqa: E402

CLS = 'configs/demo/coc_tiny_plain_cls_demo.py'


def test_one_map_of_a_16_bit_image(tmp_path, capsys):
    image = (np.random.default_rng(0).random((61, 97, 3)) * 65535).astype(np.uint16)
    cv2.imwrite(str(tmp_path / 'deep.png'), image)
    path = visualize_clusters.main(['--image', str(tmp_path / 'deep.png'), '--config', CLS,
                                    '--stage', '1', '--block', '3', '--head', '2', '--out',
                                    str(tmp_path)])
    assert path.endswith('deep_s1b3h2.png') and 'random init' in capsys.readouterr().out
    drawn = cv2.imread(path)
    assert drawn.shape[1] == 512 and drawn.shape[0] > 512 * 61 / 97  # map under a caption
    assert (drawn == 255).all(-1).mean() > 0.01


def test_all_grid_of_a_gray_image(tmp_path):
    cv2.imwrite(str(tmp_path / 'gray.jpg'), np.tile(np.arange(80, dtype=np.uint8), (50, 1)))
    path = visualize_clusters.main(['--image', str(tmp_path / 'gray.jpg'), '--config', CLS,
                                    '--all', '--display', '192', '--out', str(tmp_path)])
    grid = cv2.imread(path)
    # a row per block (3+4+5+2), a column per head (at most 8), tiles of 64 px and more
    assert grid.shape[0] > 14 * 64 and grid.shape[1] > 8 * 64


def test_bad_choices_exit_with_the_reason(tmp_path):
    text = tmp_path / 'a.png'
    text.write_text('no')
    with pytest.raises(SystemExit, match='not an image'):
        visualize_clusters.main(['--image', str(text), '--config', CLS])
    cv2.imwrite(str(tmp_path / 'ok.png'), np.zeros((40, 40, 3), np.uint8))
    with pytest.raises(SystemExit, match='stage 3: blocks 0-1'):
        visualize_clusters.main(['--image', str(tmp_path / 'ok.png'), '--config', CLS,
                                 '--stage', '3', '--block', '2', '--out', str(tmp_path)])
