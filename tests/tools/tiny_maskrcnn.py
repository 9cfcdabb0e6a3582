# Mask R-CNN with CoC-tiny on the tiny COCO set of tests/conftest.py (data_root set by the test).
_base_ = [
    '../../configs/_base_/models/mask-rcnn_coc_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    '../../configs/_base_/schedules/adamw_1x.py',
    'mmdet::_base_/default_runtime.py',
]
data_root = 'UNSET'
metainfo = dict(classes=('box', 'disc'))
model = dict(
    backbone=dict(arch='tiny', proposals=2),
    neck=dict(in_channels=[32, 64, 196, 320]),
    roi_head=dict(bbox_head=dict(num_classes=2), mask_head=dict(num_classes=2)),
    # an untrained detector scores low: keep every box so that the metrics are computed
    test_cfg=dict(rcnn=dict(score_thr=0.0)))
pipeline_scale = (90, 70)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=pipeline_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=pipeline_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file='train.json',
                 data_prefix=dict(img='train/'), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file='val.json',
                 data_prefix=dict(img='val/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + '/val.json')
test_evaluator = val_evaluator
train_cfg = dict(max_epochs=2, val_interval=2)
param_scheduler = []
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
