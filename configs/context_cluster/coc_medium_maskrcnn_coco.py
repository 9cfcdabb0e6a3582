# Mask R-CNN 1x on COCO, CoC-medium with 4 centers per region.
# Published box / mask AP: 38.6 / 36.1.
# Train: tools/dist_train.sh configs/context_cluster/coc_medium_maskrcnn_coco.py 8
_base_ = './coc_small_maskrcnn_coco.py'
model = dict(
    backbone=dict(
        arch='medium',
        init_cfg=dict(type='Pretrained', checkpoint={{_base_.coc_medium_imagenet}})))
