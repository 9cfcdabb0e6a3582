# Mask R-CNN 1x on COCO, FEC-small (7x7 centers, 2x2 regions in the first two stages).
# Published box / mask AP: 35.6 / 33.6.
# The released schedule: AdamW lr 2e-4, weight decay 1e-4, 4 GPUs x 4 images (the official
# detection/cmds/train.sh and coco_instance.py), 12 epochs, 500 linear warm-up iterations, the
# learning rate x0.2 after epochs 8, 9 and 11.
# Train: tools/dist_train.sh configs/fec/fec_small_maskrcnn_coco.py 4
_base_ = [
    '../_base_/models/mask-rcnn_fec_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    '../_base_/schedules/adamw_1x.py',
    'mmdet::_base_/default_runtime.py',
    '../_base_/pretrained.py',
]
model = dict(
    backbone=dict(
        arch='small',
        init_cfg=dict(type='Pretrained', checkpoint={{_base_.fec_small_imagenet}})),
    neck=dict(in_channels=[32, 64, 196, 320]))
train_dataloader = dict(batch_size=4)
auto_scale_lr = dict(base_batch_size=16)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 9, 11], gamma=0.2),
]
