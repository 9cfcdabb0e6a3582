"""tools/visualize_clusters.py on images of every mode, one map and the --all grid."""

import cv2
import numpy as np
import pytest
import torch

from mmcoc.apis import cluster_maps
from mmcoc.visualization import palette, read_image, select_site
from tests.helpers import import_tool

visualize_clusters = import_tool('tools/visualize_clusters.py')

pytestmark = pytest.mark.slow  # subprocesses, exports, compiles or docs: make test-fast skips

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
    cv2.imwrite(str(tmp_path / 'strip.png'), np.zeros((1, 4000, 3), np.uint8))
    with pytest.raises(SystemExit, match=r'4000x1 pixels: one side is more than \d+ times'):
        visualize_clusters.main(['--image', str(tmp_path / 'strip.png'), '--config', CLS,
                                 '--out', str(tmp_path)])


# FEC and SecViT: the tool draws FEC's token-mixer clusters and ClusterPool centers and SecViT's
# SEC groups. Expected counts come from the settings of the very model the tool drew.
FEC = 'configs/demo/fec_small_cls_demo.py'
SECVIT = 'configs/demo/secvit_t_cls_demo.py'
TEXTURE_HW = (64, 96)  # a multiple of 32: no stage pads, every grid cell is image


@pytest.fixture
def tool_model(monkeypatch):
    """The LoadedModel the tool built in its last run (seeded, so its weights are fixed)."""
    seen = []
    load_model = visualize_clusters.load_model

    def recording_load(*args, **kwargs):
        seen.append(load_model(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(visualize_clusters, 'load_model', recording_load)
    torch.manual_seed(0)
    return seen


def texture(tmp_path):
    image = (np.random.default_rng(1).random(TEXTURE_HW + (3, )) * 255).astype(np.uint8)
    cv2.imwrite(str(tmp_path / 'texture.png'), image)
    return str(tmp_path / 'texture.png')


def draw(tmp_path, config, *choice):
    # drawn opaque (--alpha 1), a cluster's region is exactly its palette colour
    return visualize_clusters.main(['--image', texture(tmp_path), '--config', config,
                                    '--size', str(max(TEXTURE_HW)), '--alpha', '1', '--out',
                                    str(tmp_path), *choice])


def regions_drawn(path, most=256):
    """How many palette colours fill a region (not only a stray pixel) of the drawn picture."""
    rgb = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB).reshape(-1, 3)
    colours, pixels = np.unique(rgb, axis=0, return_counts=True)
    cluster_colours = {tuple(c) for c in palette(most).tolist()}
    return sum(tuple(c) in cluster_colours and n >= 20 for c, n in zip(colours.tolist(), pixels))


def test_fec_token_mixer_map_shows_every_center(tmp_path, tool_model):
    path = draw(tmp_path, FEC, '--stage', '0', '--block', '0', '--head', '1')
    mixer = select_site(tool_model[-1].sites, 0, 0).module
    assert type(mixer).__name__ == 'ContextClusterMixer' and mixer.folds == 1
    # stage 0 points, the stem's features, are each most similar to their own pooled window's
    # center, so no center of a seeded model is left without members
    assert regions_drawn(path) == mixer.proposals ** 2


def test_fec_cluster_pools_are_listed_and_drawn(tmp_path, tool_model):
    with pytest.raises(SystemExit) as listing:
        draw(tmp_path, FEC, '--stage', '1', '--block', '9')
    pools = [site for site in tool_model[-1].sites if site.block is None]
    assert [type(site.module).__name__ for site in pools] == ['ClusterPool'] * 3
    assert [site.stage for site in pools] == [1, 2, 3]
    for site in pools:  # the error names every layer there is, the pools by path
        assert f'{site.path} (stage {site.stage})' in str(listing.value)

    pool = pools[1]
    path = draw(tmp_path, FEC, '--module', pool.path)
    assert path.endswith(f'texture_{pool.path}h0.png')
    # a pool into stage s clusters the stride 2^(s+1) grid around centers at twice the stride
    center_stride = 4 * 2 ** pool.stage
    centers = (TEXTURE_HW[0] // center_stride) * (TEXTURE_HW[1] // center_stride)
    assert centers // 2 < regions_drawn(path) <= centers


def test_sec_groups_are_drawn_as_equal_groups(tmp_path, tool_model):
    path = draw(tmp_path, SECVIT, '--stage', '1', '--block', '1', '--head', '3')
    loaded = tool_model[-1]
    assert regions_drawn(path) == select_site(loaded.sites, 1, 1).module.num_clusters
    # every block and head through the tool's API: num_clusters groups of equal size, the
    # last stage's global attention one group
    maps = cluster_maps(loaded, read_image(texture(tmp_path)), max(TEXTURE_HW))
    assert set(maps.assignments) == {site.path for site in loaded.sites}
    for site in loaded.sites:
        assignment = maps.assignments[site.path]
        assert assignment.shape[0] == site.module.num_heads
        for labels in assignment:
            _, sizes = np.unique(labels, return_counts=True)
            assert len(sizes) == site.module.num_clusters
            assert (sizes == labels.size // site.module.num_clusters).all()
    assert {site.module.num_clusters for site in loaded.sites if site.stage == 3} == {1}
