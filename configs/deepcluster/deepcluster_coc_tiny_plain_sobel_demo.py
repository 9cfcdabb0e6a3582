# DeepCluster pretraining of a CoC-tiny_plain backbone (Sobel input, BatchNorm; see its base
# config) on the 800 bundled one-shape images (tools/generate_demo_data.py --format imagenet)
# without their labels, sized for a CPU in minutes: 64 px crops, k = 32 clusters
# (over-segmenting the 4 shapes, as the paper's k = 10,000 does ImageNet's 1,000 classes),
# PCA to 16 dimensions, 8 epochs of 50 batches of 16, re-clustering every 4 epochs.
# Re-clustering every epoch (one pass over 800 images) left the pseudo-label loss near ln 32:
# the network had no time to learn one assignment before the next replaced it. The labels of
# the set are read only to log the NMI of the clusters against them.
# Evaluate with configs/deepcluster/linear_probe_coc_tiny_plain_sobel_demo*.py
# (make demo-deepcluster).
_base_ = [
    '../_base_/models/coc_tiny_plain_sobel_demo.py',
    '../_base_/datasets/demo_shapes_cls.py',
    'mmpretrain::_base_/default_runtime.py',
]
num_clusters = 32

model = dict(
    type='mmcoc.DeepCluster',
    head=dict(type='LinearClsHead', num_classes=num_clusters, in_channels=320,
              loss=dict(type='CrossEntropyLoss')),
    head_init_std=0.01)
train_dataloader = dict(sampler=dict(_delete_=True, type='mmcoc.ClusterUniformSampler'))
# What k-means sees: the validation transforms, no random augmentation (the paper: resize 256,
# center crop 224).
custom_hooks = [
    dict(type='mmcoc.DeepClusterHook', pipeline={{_base_.test_pipeline}}, pca_dim=16,
         kmeans_iters=20, batch_size=50, interval=4),
]
# pretraining only: no validation
val_dataloader = val_evaluator = val_cfg = None
test_dataloader = test_evaluator = test_cfg = None

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
