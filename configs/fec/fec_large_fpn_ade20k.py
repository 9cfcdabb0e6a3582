# Semantic FPN 80k on ADE20K, FEC-large, FEC-small's setting and schedule.
# Published mIoU: 40.5. Train: tools/dist_train.sh configs/fec/fec_large_fpn_ade20k.py 4
_base_ = './fec_small_fpn_ade20k.py'
model = dict(
    backbone=dict(
        arch='large',
        init_cfg=dict(type='Pretrained', checkpoint={{_base_.fec_large_imagenet}})),
    neck=dict(in_channels=[64, 128, 320, 512]))
