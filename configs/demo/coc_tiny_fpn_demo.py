# Semantic FPN with a CoC-tiny backbone on the bundled demo shapes in ADE20K's layout
# (tools/generate_demo_data.py --format ade), sized to learn on a 2-core CPU in minutes: the
# backbone starts from random weights (no download), images are resized to about 192 px and
# cropped to 160 px, and the FPN and its head are 64 channels wide.
_base_ = [
    '../_base_/models/fpn_coc.py',
    'mmseg::_base_/default_runtime.py',
]
data_root = 'data/demo_shapes_ade/'
# label maps hold 0 for clutter (ignored, as ADE's "other"), then these classes from 1
metainfo = dict(
    classes=('background', 'rectangle', 'ellipse', 'triangle', 'star'),
    palette=[(40, 40, 40), (230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48)])
num_classes = 5
channels = 64
crop_size = (160, 160)
image_scale = (192, 192)

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(arch='tiny', proposals=2, folds=[4, 2, 1, 1], cluster_normalizer='similarity',
                  drop_path_rate=0.0),
    neck=dict(in_channels=[32, 64, 196, 320], out_channels=channels),
    decode_head=dict(in_channels=[channels] * 4, channels=channels, num_classes=num_classes))

dataset = dict(type='BaseSegDataset', data_root=data_root, metainfo=metainfo,
               img_suffix='.jpg', seg_map_suffix='.png', reduce_zero_label=True)
train_pipeline = [
    # names an empty, truncated, undecodable or oversized image (on_error='skip' skips it)
    dict(type='mmcoc.LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=image_scale, ratio_range=(0.75, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=4, num_workers=1, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(**dataset, pipeline=train_pipeline,
                 data_prefix=dict(img_path='images/training',
                                  seg_map_path='annotations/training')))
val_dataloader = dict(
    batch_size=1, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**dataset, pipeline=test_pipeline,
                 data_prefix=dict(img_path='images/validation',
                                  seg_map_path='annotations/validation')))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

max_iters = 700
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# from scratch, so a higher rate than the published fine-tuning: warm-up, then poly decay
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=1e-4),
    clip_grad=dict(max_norm=10.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=50, end=max_iters),
]
# mmseg keeps its hooks in the schedule configs, which this one does not inherit
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters // 2,
                    max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
log_processor = dict(by_epoch=False)
# cluster maps of two validation images as training goes (before it, then every 100
# iterations), written by the visualizer to <work dir>/<time>/vis_data/vis_image/clusters_*
custom_hooks = [dict(type='mmcoc.ClusterVisualizationHook', interval=100, num_images=2)]
