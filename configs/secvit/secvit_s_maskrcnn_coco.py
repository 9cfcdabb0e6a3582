# Mask R-CNN 1x on COCO with a SecViT-S backbone, the setting of secvit_t_maskrcnn_coco.py.
# Train: tools/dist_train.sh configs/secvit/secvit_s_maskrcnn_coco.py 8
_base_ = './secvit_t_maskrcnn_coco.py'
model = dict(
    backbone=dict(
        arch='s', init_cfg=dict(type='Pretrained', checkpoint={{_base_.secvit_s_imagenet}})))
