"""Cluster drawing, image reading and finding the clustering layers of a model."""
import io

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from mmcoc.models import ContextCluster
from mmcoc.models.layers import RecordsAssignment, context_cluster
from mmcoc.visualization import (
    ImageError,
    draw_cluster_map,
    find_cluster_sites,
    palette,
    read_image,
    record_assignments,
    select_site,
)


@pytest.mark.parametrize('n', [4, 16, 25, 49, 64, 256])
def test_palette_gives_distinct_colours(n):
    colors = palette(n).astype(int)
    assert len({tuple(c) for c in colors}) == n
    # consecutive cluster indices (neighbouring regions' centers) are far apart
    assert np.abs(np.diff(colors, axis=0)).sum(1).min() > 60
    if n <= 49:
        distances = np.abs(colors[:, None] - colors[None]).sum(-1) + np.eye(n, dtype=int) * 999
        assert distances.min() > 20


def test_cluster_map_colours_regions_marks_boundaries_and_centers():
    image = np.full((60, 80, 3), 128, np.uint8)
    labels = np.zeros((6, 8), np.int64)
    labels[:, 4:] = 7  # two clusters: left and right halves
    drawn = draw_cluster_map(image, labels, alpha=0.5, mark_centers=False)
    left, right = drawn[5:55, 5:35].reshape(-1, 3), drawn[5:55, 45:75].reshape(-1, 3)
    assert (left == left[0]).all() and (right == right[0]).all()
    assert (left[0] != right[0]).any()
    assert (drawn[:, 40] == 255).all()  # the boundary column, white
    assert (draw_cluster_map(image, labels, alpha=0.0, mark_centers=False)[:, :39] == 128).all()
    marked = draw_cluster_map(image, labels, alpha=0.5)
    # a center dot, ringed in black, in the middle of each half
    for center in (marked[25:35, 15:25], marked[25:35, 55:65]):
        assert (center == 0).all(-1).any()
    assert not (marked[:20] == 0).all(-1).any()  # and nowhere else


def test_cluster_map_leaves_padding_out():
    labels = np.array([[0, 1], [2, 3]])
    # the image covers one cell of the 2x2 grid, the rest was the preprocessor's padding
    drawn = draw_cluster_map(np.zeros((10, 10, 3), np.uint8), labels, extent=(1, 1),
                             mark_centers=False)
    assert (drawn == drawn[0, 0]).all()


def test_draw_refuses_bad_alpha():
    with pytest.raises(ValueError, match='alpha'):
        draw_cluster_map(np.zeros((4, 4, 3), np.uint8), np.zeros((2, 2)), alpha=1.5)


def encoded(array, ext):
    ok, data = cv2.imencode(ext, array)
    assert ok
    return data.tobytes()


def test_read_image_takes_every_common_mode(tmp_path):
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[..., 0] = 200  # red
    rgb[..., 2] = 10
    assert (read_image(encoded(rgb[..., ::-1], '.png')) == rgb).all()  # RGB, not BGR
    assert np.abs(read_image(encoded(rgb[..., ::-1], '.jpg')).astype(int) - rgb).max() < 12
    gray16 = np.full((20, 30), 65535 // 2, np.uint16)
    assert (np.abs(read_image(encoded(gray16, '.png')).astype(int) - 127) <= 1).all()
    color16 = (rgb.astype(np.uint16) * 257)[..., ::-1]
    assert (read_image(encoded(color16, '.png')) == rgb).all()
    gray = read_image(encoded(rgb[..., 0], '.png'))
    assert gray.shape == (20, 30, 3) and (gray == 200).all()
    rgba = np.dstack([rgb, np.zeros((20, 30), np.uint8)])
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, 'PNG')
    assert (read_image(buffer.getvalue()) == 255).all()  # transparent -> white
    palette_image = Image.fromarray(rgb).convert('P')
    path = tmp_path / 'palette.png'
    palette_image.save(path)
    assert read_image(str(path)).shape == (20, 30, 3)


def test_read_image_refuses_non_images_and_huge_ones(tmp_path):
    text = tmp_path / 'a.png'
    text.write_text('hello')
    with pytest.raises(ImageError, match='not an image'):
        read_image(str(text))
    with pytest.raises(ImageError, match='no image file'):
        read_image(str(tmp_path / 'missing.png'))
    with pytest.raises(ImageError, match='megapixels'):
        read_image(encoded(np.zeros((300, 400), np.uint8), '.png'), max_pixels=100_000)


def test_sites_follow_the_backbone_structure():
    model = ContextCluster('tiny', out_indices=(0, 1, 2, 3))
    sites = find_cluster_sites(model)
    assert [(s.stage, s.block) for s in sites] == [
        (stage, block) for stage, blocks in enumerate([3, 4, 5, 2]) for block in range(blocks)]
    for site in sites:
        assert site.module is model.stages[site.stage].blocks[site.block].token_mixer
        assert site.path == f'stages.{site.stage}.blocks.{site.block}.token_mixer'
    assert select_site(sites, 2, 4).path == 'stages.2.blocks.4.token_mixer'
    with pytest.raises(ValueError, match='stage 1: blocks 0-3'):
        select_site(sites, 1, 4)


def test_layers_between_stages_join_the_next_stage():
    class Pool(RecordsAssignment, torch.nn.Module):  # the clustering layers' contract
        pass

    model = ContextCluster('tiny', out_indices=(0, 1, 2, 3))
    model.stages[2].downsample = Pool()  # as FEC's ClusterPool: stage 1's points into stage 2
    sites = find_cluster_sites(model)
    pool = select_site(sites, path='stages.2.downsample')
    assert (pool.stage, pool.block) == (2, None)
    assert select_site(sites, 2, 0).path == 'stages.2.blocks.0.token_mixer'


def test_recorded_assignments_are_the_layers_own():
    torch.manual_seed(0)
    model = ContextCluster('tiny', proposals=3, out_indices=(0, 1, 2, 3)).eval()
    x = torch.randn(1, 3, 64, 96)
    sites = find_cluster_sites(model)
    with torch.no_grad(), record_assignments(sites) as recorded:
        model(x)
    assert set(recorded) == {s.path for s in sites}
    assert not any(s.module.keep_assignment for s in sites)
    # the same call of the clustering op, made by hand on the first block's input
    mixer = model.stages[0].blocks[0].token_mixer
    with torch.no_grad():
        stem = model.patch_embed(torch.cat([x, model.position_channels(x)], 1))
        normed = model.stages[0].blocks[0].norm1(stem)
        _, expected = context_cluster(mixer.f(normed), mixer.v(normed), mixer.sim_alpha,
                                      mixer.sim_beta, mixer.heads, mixer.proposals, mixer.folds,
                                      mixer.normalizer, return_assignment=True)
    assert torch.equal(recorded['stages.0.blocks.0.token_mixer'], expected)
    assert recorded['stages.0.blocks.0.token_mixer'].shape == (1, 4, 16, 24)
