# Mask R-CNN 1x on COCO, FEC-large, FEC-small's setting and schedule.
# Published box / mask AP: 39.9 / 37.3.
# Train: tools/dist_train.sh configs/fec/fec_large_maskrcnn_coco.py 4
_base_ = './fec_small_maskrcnn_coco.py'
model = dict(
    backbone=dict(
        arch='large',
        init_cfg=dict(type='Pretrained', checkpoint={{_base_.fec_large_imagenet}})),
    neck=dict(in_channels=[64, 128, 320, 512]))
