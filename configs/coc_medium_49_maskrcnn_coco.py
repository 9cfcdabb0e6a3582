# Mask R-CNN 1x on COCO, CoC-medium with 49 centers per region.
# Published box / mask AP: 40.6 / 37.6. Train: tools/dist_train.sh configs/coc_medium_49_maskrcnn_coco.py 8
_base_ = [
    './_base_/models/mask-rcnn_coc_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    './_base_/schedules/adamw_1x.py',
    'mmdet::_base_/default_runtime.py',
    './_base_/pretrained.py',
]
model = dict(
    backbone=dict(
        arch='medium',
        proposals=7,
        init_cfg=dict(type='Pretrained', checkpoint={{_base_.coc_medium_imagenet}})))
