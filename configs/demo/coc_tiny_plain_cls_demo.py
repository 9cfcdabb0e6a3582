# Image classification with a CoC-tiny_plain backbone (no region partition: the images are
# small) on the bundled one-shape images in ImageNet's folder layout (tools/generate_demo_data.py
# --format imagenet), sized to learn on a 2-core CPU in minutes from random weights (no
# download): 64 px crops, batches of 16, no Mixup/CutMix (four classes need no such
# regularisation), a higher learning rate than the ImageNet recipe.
#
# Three departures from the ImageNet recipe took the demo from 71% to about 89% top-1 in the
# same 600 steps; the 1000 steps here add margin over the seed-to-seed spread of a few points.
# With the published initialisation (MLPs truncated-normal 0.02, layer scale 1e-5) every block
# starts as a near-identity of near-linear layers, so the network starts as a linear map of the
# pixels followed by a global average, which cannot tell these textures and outlines apart; it
# sat at the loss of a uniform guess for ~150 steps. Kaiming initialisation of the convs and
# MLPs with layer scale 1.0 makes the blocks (GELU, clustering) act from the first step, and
# BatchNorm instead of GroupNorm speeds up the early steps further.
_base_ = [
    '../_base_/models/coc_classifier.py',
    '../_base_/datasets/demo_shapes_cls.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(
    backbone=dict(
        arch='tiny_plain',
        cluster_normalizer='similarity',
        drop_path_rate=0.0,
        norm_cfg=dict(type='BN'),
        layer_scale_init_value=1.0,
        init_cfg=dict(type='Kaiming', layer=['Conv2d', 'Linear'], mode='fan_in',
                      nonlinearity='relu', distribution='normal')),
    head=dict(num_classes={{_base_.data_preprocessor.num_classes}}, in_channels=320),
    train_cfg=dict(_delete_=True))

max_epochs = 20
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=10)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0),
    clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1, end=max_epochs,
         convert_to_iter_based=True),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=5),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1))
# cluster maps of two validation images as training goes (before it, then every 100
# iterations), written by the visualizer to <work dir>/<time>/vis_data/vis_image/clusters_*
custom_hooks = [dict(type='mmcoc.ClusterVisualizationHook', interval=100, num_images=2)]
# a fixed seed, so that every machine trains the same run
randomness = dict(seed=0)
