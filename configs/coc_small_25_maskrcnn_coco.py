# Mask R-CNN 1x on COCO, CoC-small with 25 centers per region.
# Published box / mask AP: 37.5 / 35.4. Train: tools/dist_train.sh configs/coc_small_25_maskrcnn_coco.py 8
_base_ = [
    './_base_/models/mask-rcnn_coc_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    './_base_/schedules/adamw_1x.py',
    'mmdet::_base_/default_runtime.py',
    './_base_/pretrained.py',
]
model = dict(
    backbone=dict(
        arch='small',
        proposals=5,
        init_cfg=dict(type='Pretrained', checkpoint={{_base_.coc_small_imagenet}})))
