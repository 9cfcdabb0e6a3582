# Semantic FPN 80k on ADE20K with a SecViT-T backbone (ImageNet weights from
# configs/_base_/pretrained.py). The official SecViT release has no segmentation code: the
# schedule is this repo's Context-Cluster one (PVT's Semantic FPN recipe: AdamW lr 1e-4, weight
# decay 1e-4, poly decay, 80k iterations, 8 GPUs x 4 crops of 512).
# Train: tools/dist_train.sh configs/secvit/secvit_t_fpn_ade20k.py 8
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    '../_base_/schedules/adamw_poly_80k.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/pretrained.py',
    '../_base_/default_runtime.py',
]
crop_size = (512, 512)
model = dict(
    # mmseg's EncoderDecoder with its prediction resized and argmaxed a few classes at a
    # time: a 12-megapixel photo needs under 3 GB instead of 7 GB (same labels)
    type='mmcoc.MemoryBoundedEncoderDecoder',
    # EncoderDecoder hands a model-level `pretrained` to the backbone: the base's ResNet URL
    # must not reach ours (weights come through the backbone's init_cfg)
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True,
        type='mmcoc.SecViT',
        arch='t',
        out_indices=(0, 1, 2, 3),
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        init_cfg=dict(type='Pretrained', checkpoint={{_base_.secvit_t_imagenet}})),
    neck=dict(in_channels=[64, 128, 256, 512]),
    # mmseg's FPNHead, its scale heads added at exact bilinear weights (same checkpoints)
    decode_head=dict(type='mmcoc.StableResizeFPNHead', num_classes=150))
