# Mask R-CNN with a CoC-tiny backbone on the bundled demo shapes (tools/generate_demo_data.py),
# sized to learn on a 2-core CPU in minutes: the backbone starts from random weights (no
# download), images are resized to at most 160 px, and the heads are slimmed (64-channel FPN,
# 256-wide box head, 2-conv mask head) because at this scale they, not the backbone, would
# dominate the step time.
_base_ = [
    '../_base_/models/mask-rcnn_coc_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/default_runtime.py',
]
# COCO's own layout (annotations/instances_{train,val}2017.json, {train,val}2017/): the file
# names are those of mmdet's coco_instance.py; only data_root and the classes differ
data_root = 'data/demo_shapes/'
metainfo = dict(
    classes=('rectangle', 'ellipse', 'triangle', 'star'),
    palette=[(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48)])
num_classes = 4
channels = 64

model = dict(
    backbone=dict(arch='tiny', proposals=2, folds=[4, 2, 1, 1], cluster_normalizer='similarity',
                  drop_path_rate=0.0),
    neck=dict(in_channels=[32, 64, 196, 320], out_channels=channels),
    rpn_head=dict(in_channels=channels, feat_channels=channels),
    roi_head=dict(
        # a fixed 2x2 sampling grid per bin (an adaptive grid makes RoIAlign's CPU backward the
        # slowest op of the step), computed by torchvision's RoIAlign (the same aligned
        # sampling), whose CPU forward is several times faster than mmcv's
        bbox_roi_extractor=dict(roi_layer=dict(sampling_ratio=2, use_torchvision=True),
                                out_channels=channels),
        bbox_head=dict(in_channels=channels, fc_out_channels=256, num_classes=num_classes),
        mask_roi_extractor=dict(roi_layer=dict(sampling_ratio=2, use_torchvision=True),
                                out_channels=channels),
        mask_head=dict(num_convs=2, in_channels=channels, conv_out_channels=channels,
                       num_classes=num_classes)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=500),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(
        rpn=dict(nms_pre=500, max_per_img=300),
        rcnn=dict(max_per_img=50)))

image_scale = (160, 160)
train_pipeline = [
    # names an empty, truncated or undecodable image (on_error='skip' skips it with a warning);
    # the test pipeline keeps mmcv's loader, which mmdet's inferencers look for by name
    dict(type='mmcoc.LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=4, num_workers=1, persistent_workers=True,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=1, persistent_workers=True,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

max_epochs = 7
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# from scratch, so a higher rate than the published fine-tuning: warm-up, then a tenth for the
# last epoch
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4),
    clip_grad=dict(max_norm=10.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=max_epochs, milestones=[max_epochs - 1],
         gamma=0.1),
]
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=1, max_keep_ckpts=2))
# cluster maps of two validation images as training goes (before it, then every 100
# iterations), written by the visualizer to <work dir>/<time>/vis_data/vis_image/clusters_*
custom_hooks = [dict(type='mmcoc.ClusterVisualizationHook', interval=100, num_images=2)]
