# Semantic FPN 80k on ADE20K, FEC-small (10x10 centers in stages 1-2, 5x5 in stages 3-4).
# Published mIoU: 35.3. The released schedule is Context-Cluster's (AdamW lr 1e-4, poly, 80k
# iterations) on 4 GPUs x 4 crops (the official segmentation/cmds/train.sh and ade20k.py).
# Train: tools/dist_train.sh configs/fec/fec_small_fpn_ade20k.py 4
_base_ = [
    '../_base_/models/fpn_fec.py',
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
        init_cfg=dict(type='Pretrained', checkpoint={{_base_.fec_small_imagenet}})),
    neck=dict(in_channels=[32, 64, 196, 320]),
    decode_head=dict(num_classes=150))
auto_scale_lr = dict(base_batch_size=16)  # 4 GPUs x 4 crops (mmseg's ade20k base: 4 per GPU)
