# Mask R-CNN 1x on COCO, FEC-base, FEC-small's setting and schedule.
# Published box / mask AP: 37.9 / 35.5.
# Train: tools/dist_train.sh configs/fec/fec_base_maskrcnn_coco.py 4
_base_ = './fec_small_maskrcnn_coco.py'
model = dict(
    backbone=dict(
        arch='base',
        init_cfg=dict(type='Pretrained', checkpoint={{_base_.fec_base_imagenet}})),
    neck=dict(in_channels=[64, 128, 320, 512]))
