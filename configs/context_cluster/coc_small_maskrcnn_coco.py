# Mask R-CNN 1x on COCO, CoC-small with 4 centers per region.
# Published box / mask AP: 35.9 / 33.8.
# Train: tools/dist_train.sh configs/context_cluster/coc_small_maskrcnn_coco.py 8
_base_ = [
    '../_base_/models/mask-rcnn_coc_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    '../_base_/schedules/adamw_1x.py',
    'mmdet::_base_/default_runtime.py',
    '../_base_/pretrained.py',
]
model = dict(
    backbone=dict(
        arch='small',
        proposals=2,
        init_cfg=dict(type='Pretrained', checkpoint={{_base_.coc_small_imagenet}})))
train_dataloader = dict(batch_size=4)  # x 8 GPUs: the published 32 images per step
