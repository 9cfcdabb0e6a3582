# Semantic FPN 80k on ADE20K, CoC-small with 4 centers per region.
# Published mIoU: 36.6. Train: tools/dist_train.sh configs/context_cluster/coc_small_fpn_ade20k.py 8
_base_ = [
    '../_base_/models/fpn_coc.py',
    'mmseg::_base_/datasets/ade20k.py',
    '../_base_/schedules/adamw_poly_80k.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/pretrained.py',
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        arch='small',
        proposals=2,
        init_cfg=dict(type='Pretrained', checkpoint={{_base_.coc_small_imagenet}})),
    decode_head=dict(num_classes=150))
