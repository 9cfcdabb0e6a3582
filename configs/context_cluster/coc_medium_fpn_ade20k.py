# Semantic FPN 80k on ADE20K, CoC-medium with 4 centers per region.
# Published mIoU: 40.2.
# Train: tools/dist_train.sh configs/context_cluster/coc_medium_fpn_ade20k.py 8
_base_ = './coc_small_fpn_ade20k.py'
model = dict(
    backbone=dict(
        arch='medium',
        init_cfg=dict(type='Pretrained', checkpoint={{_base_.coc_medium_imagenet}})))
