# DeepCluster pretraining of a CoC-tiny_plain backbone on the bundled one-shape images
# (tools/generate_demo_data.py --format imagenet), without their labels, sized for a CPU in
# minutes: 64 px crops, k = 32 clusters of 800 images (over-segmenting the 4 shapes, as the
# paper's k = 10,000 does ImageNet's 1,000 classes), PCA to 64 dimensions, 8 epochs.
# The labels of the set are read only to log the NMI of the clusters against them.
# Evaluate with configs/deepcluster/linear_probe_coc_tiny_plain_demo.py (make demo-deepcluster).
_base_ = 'mmpretrain::_base_/default_runtime.py'
custom_imports = dict(imports=['mmcoc'], allow_failed_imports=False)
data_root = 'data/demo_shapes_cls'
classes = ('ellipse', 'rectangle', 'star', 'triangle')  # for the NMI only
crop_size = 64
num_clusters = 32

model = dict(
    type='mmcoc.DeepCluster',
    backbone=dict(type='mmcoc.ContextCluster', arch='tiny_plain', out_indices=3,
                  cluster_normalizer='similarity', drop_path_rate=0.0),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=num_clusters, in_channels=320,
              loss=dict(type='CrossEntropyLoss')),
    head_init_std=0.01,
    data_preprocessor=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           to_rgb=True))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=crop_size, crop_ratio_range=(0.5, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    # Tried and worse in the linear probe (README): colour jitter (brightness/contrast 0.4,
    # saturation 1.0, hue (0, 0.5): mmcv's adjust_hue fails on negative shifts under numpy 2)
    # with 20% grey images as OpenMMLab's old DeepCluster configs, also with k = 128.
    dict(type='PackInputs'),
]
# What k-means sees: no random augmentation (the paper: resize 256, center crop 224).
extract_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=int(crop_size / 0.9), edge='short'),
    dict(type='CenterCrop', crop_size=crop_size),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=16, num_workers=1, persistent_workers=True,
    sampler=dict(type='mmcoc.ClusterUniformSampler'),
    dataset=dict(type='CustomDataset', data_root=data_root, classes=classes,
                 data_prefix='train', pipeline=train_pipeline))
custom_hooks = [
    dict(type='mmcoc.DeepClusterHook', pipeline=extract_pipeline, pca_dim=64,
         kmeans_iters=20, batch_size=50),
]

max_epochs = 8
train_cfg = dict(by_epoch=True, max_epochs=max_epochs)
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
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1))
randomness = dict(seed=0)
