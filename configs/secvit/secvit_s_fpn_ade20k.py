# Semantic FPN 80k on ADE20K with a SecViT-S backbone, the setting of secvit_t_fpn_ade20k.py.
# Train: tools/dist_train.sh configs/secvit/secvit_s_fpn_ade20k.py 8
_base_ = './secvit_t_fpn_ade20k.py'
model = dict(
    backbone=dict(
        arch='s', init_cfg=dict(type='Pretrained', checkpoint={{_base_.secvit_s_imagenet}})))
