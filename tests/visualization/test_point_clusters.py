"""Point-cloud cluster maps: what is recorded from the forward pass and what is drawn."""

import cv2
import numpy as np
import pytest
import torch

from mmcoc.datasets import write_scanobjectnn_h5
from mmcoc.models.pointcloud import PointMLP
from mmcoc.visualization.point_clusters import draw_point_clusters, record_point_clusters
from tests.helpers import import_tool

visualize_clusters = import_tool('tools/visualize_clusters.py')

DEMO = 'configs/pointcloud/pointmlp_coc_demo.py'


def test_records_the_real_groups_and_draws_them():
    torch.manual_seed(0)
    backbone = PointMLP(points=64, embed_dim=8, dim_expansion=(2, 2), pre_blocks=(2, 1),
                        pos_blocks=(1, 1), k_neighbors=(6, 5), reducers=(2, 2)).eval()
    points = torch.rand(64, 3) * 2 - 1
    clusters = record_point_clusters(backbone, points, stage=1, block=0)
    assert clusters.points.shape == (32, 3)  # stage 1 groups the 32 anchors of stage 0
    assert clusters.neighbours.shape == clusters.similarity.shape == (16, 5)
    assert ((clusters.similarity > 0) & (clusters.similarity < 1)).all()
    assert backbone.pre_blocks_list[1].operation[0].last_similarity is None  # not kept after
    fig, drawn = draw_point_clusters(clusters, groups=3)
    assert drawn == dict(points=32, groups=3, members=15, anchors=3)
    # count what the axes hold: grey points, coloured members, anchor crosses
    sizes = [len(c._offsets3d[0]) for c in fig.axes[0].collections]
    assert sizes == [32, 15, 3]
    members = fig.axes[0].collections[1].get_array()
    assert np.allclose(members, clusters.similarity[:3].reshape(-1))
    with pytest.raises(ValueError, match='blocks 0-0'):
        record_point_clusters(backbone, points, stage=1, block=1)
    with pytest.raises(ValueError, match='no context cluster'):
        record_point_clusters(PointMLP(points=64, embed_dim=8, dim_expansion=(2, 2),
                                       pre_blocks=(1, 1), pos_blocks=(1, 1), k_neighbors=(6, 5),
                                       reducers=(2, 2), context_cluster=False), points)


def test_tool_writes_a_png_of_an_h5_object(tmp_path, capsys):
    cloud = np.random.default_rng(0).normal(size=(3, 2048, 3)).astype(np.float32)
    h5 = write_scanobjectnn_h5(str(tmp_path / 'objects.h5'), cloud, [0, 1, 2])
    path = visualize_clusters.main(['--points', h5, '--index', '2', '--config', DEMO,
                                    '--stage', '2', '--groups', '4', '--out', str(tmp_path)])
    assert path.endswith('objects_2_s2b0h0.png')
    assert '4 groups, 64 members over 64 points' in capsys.readouterr().out
    assert cv2.imread(path).shape[:2] == (600, 700)
    with pytest.raises(SystemExit, match='holds objects 0-2'):
        visualize_clusters.main(['--points', h5, '--index', '3', '--config', DEMO])
    with pytest.raises(SystemExit):
        visualize_clusters.main(['--points', h5, '--image', h5, '--config', DEMO])
