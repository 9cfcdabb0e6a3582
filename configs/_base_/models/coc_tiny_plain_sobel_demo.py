# The CoC-tiny_plain of the DeepCluster demo, shared by its pretraining and its linear probes
# (configs/deepcluster/*_demo*.py). Two choices make DeepCluster learn shapes on the demo set,
# both measured (README, "Self-supervised pretraining"):
# - the paper's Sobel input (grey-level edges, 2 channels): on RGB the clusters follow the
#   random colours of the shapes and backgrounds, and the pretrained network probes worse than
#   a random one;
# - the classification demo's initialisation (Kaiming convs and MLPs, layer scale 1.0,
#   BatchNorm): with the published one every block starts as a near-identity of near-linear
#   layers, whose features k-means cannot split by anything but mean intensity.
_base_ = '../default_runtime.py'
backbone_init = dict(type='Kaiming', layer=['Conv2d', 'Linear'], mode='fan_in',
                     nonlinearity='relu', distribution='normal')
model = dict(
    data_preprocessor=dict(type='mmcoc.SobelDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], to_rgb=True),
    backbone=dict(
        type='mmcoc.ContextCluster',
        arch='tiny_plain',
        in_channels=2,  # the two Sobel responses
        out_indices=3,
        cluster_normalizer='similarity',
        drop_path_rate=0.0,
        norm_cfg=dict(type='BN'),
        layer_scale_init_value=1.0,
        init_cfg=backbone_init),
    neck=dict(type='GlobalAveragePooling'))
