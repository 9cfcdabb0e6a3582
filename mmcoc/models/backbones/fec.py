"""FEC, feature extraction with clustering ("Neural Clustering based Visual Representation
Learning", Chen et al., CVPR'24), as an OpenMMLab backbone.

FEC is Context Clusters with two changes: a cluster's feature is the plain mean of its center
and its members (``weighting='plain'`` of the clustering op, dispatched by similarity as CoC's)
and the stride-2 point reducers between stages become ``ClusterPool`` layers. Everything else
(points as RGB + position, stages, layer scales, output norms, freezing, weight loading) is
ContextCluster's, so FEC is one: the ClusterPools are the stages' ``downsample``
(``stages.{1,2,3}.downsample``; the official release's ``network.{1,3,5}``) and official
weights load through the same ``checkpoint_filter_fn``.
"""
from typing import Dict

import torch.nn as nn

from mmcoc.models.layers import ClusterPool
from mmcoc.registry import MODELS

from .context_cluster import ContextCluster


@MODELS.register_module()
class FEC(ContextCluster):
    """FEC backbone: Context Clusters with mean aggregation and ClusterPool downsampling.

    Args:
        arch (str | dict): ``'small'``, ``'base'``, ``'large'`` or a dict with the keys
            ``layers``, ``embed_dims``, ``heads``, ``head_dim``, ``proposals``, ``folds`` and
            optionally ``mlp_ratios`` (default ``[8, 8, 4, 4]``).
        proposals (int | Sequence[int], optional): centers per side (per region), per stage;
            the released dense models use ``[10, 10, 5, 5]`` (segmentation, 512 px) and ``7``
            (detection).
        folds (int | Sequence[int], optional): regions per side, per stage; a ClusterPool
            uses the setting of the stage it leads into (detection: ``[2, 2, 1, 1]``).
        in_channels, out_indices, frozen_stages, norm_eval, drop_rate, drop_path_rate,
            layer_scale_init_value, norm_cfg, act_cfg, with_cp, pretrained, init_cfg: as
            ``ContextCluster``; ``cluster_normalizer`` is ``'count'``, the release's.

    ClusterPool's similarity projection ``conv_f`` gets no gradient by construction (it only
    feeds an argmax) and holds its weight and bias as buffers (loaded and saved under the
    official keys): every parameter gets a gradient, DDP needs no ``find_unused_parameters``
    (see ``mmcoc.models.layers.cluster_pooling.ClusterPool``).
    """
    arch_settings = {
        'small': dict(layers=[3, 4, 5, 2], embed_dims=[32, 64, 196, 320], heads=[4, 4, 8, 8],
                      head_dim=24, proposals=[4, 4, 2, 2], folds=1),
        'base': dict(layers=[2, 2, 6, 2], embed_dims=[64, 128, 320, 512], heads=[4, 4, 8, 8],
                     head_dim=32, proposals=[4, 4, 2, 2], folds=1),
        'large': dict(layers=[4, 4, 12, 4], embed_dims=[64, 128, 320, 512],
                      heads=[6, 6, 12, 12], head_dim=32, proposals=[4, 4, 2, 2], folds=1),
    }
    # a cluster's feature is the plain mean of its center and its members, so the sum is
    # divided by the count (the release's one normaliser)
    mixer_weighting = 'plain'
    default_normalizer = 'count'

    def _make_downsample(self, stage: int, in_dim: int, out_dim: int,
                         norm_cfg: Dict) -> nn.Module:
        # a ClusterPool clusters within the regions of the stage it leads into
        return ClusterPool(in_dim, out_dim, folds=self.arch['folds'][stage], norm_cfg=norm_cfg)
