"""Tiny variants of the three backbones (one block per stage, a few channels) for the deployment
tests: every clustering layer of the full models, at a fraction of their trace time."""
from mmcoc.registry import MODELS

TINY = {
    'coc': dict(type='mmcoc.ContextCluster',
                arch=dict(layers=[1, 1, 1, 1], embed_dims=[8, 16, 24, 32], heads=2, head_dim=4,
                          proposals=2, folds=[2, 1, 1, 1])),
    'fec': dict(type='mmcoc.FEC',
                arch=dict(layers=[1, 1, 1, 1], embed_dims=[8, 16, 24, 32], heads=2, head_dim=4,
                          proposals=[2, 2, 1, 1], folds=[2, 1, 1, 1])),
    'secvit': dict(type='mmcoc.SecViT',
                   arch=dict(embed_dims=[16, 32, 32, 64], depths=[1, 1, 2, 1],
                             num_heads=[2, 2, 4, 4], num_clusters=[4, 3, 2, 1],
                             layer_scale=[False, False, True, True])),
}


def tiny_backbone(name, seed=0):
    import torch
    torch.manual_seed(seed)
    return MODELS.build(dict(TINY[name], out_indices=(0, 1, 2, 3))).eval()
