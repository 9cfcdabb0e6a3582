# Mask R-CNN 1x on COCO with a SecViT-T backbone (ImageNet weights from
# configs/_base_/pretrained.py). The official SecViT release has no detection code: the schedule
# is this repo's Context-Cluster 1x (AdamW lr 2e-4, weight decay 1e-4, 12 epochs, 8 GPUs x 4).
# Train: tools/dist_train.sh configs/secvit/secvit_t_maskrcnn_coco.py 8
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    '../_base_/schedules/adamw_1x.py',
    'mmdet::_base_/default_runtime.py',
    '../_base_/pretrained.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmcoc.SecViT',
        arch='t',
        out_indices=(0, 1, 2, 3),  # LayerNorm-ed maps at strides 4, 8, 16, 32
        # four images per GPU: the stem's and downsampling's BN synchronised across GPUs
        # (tools/train.py makes it plain BN on a CPU or in one process)
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        init_cfg=dict(type='Pretrained', checkpoint={{_base_.secvit_t_imagenet}})),
    neck=dict(in_channels=[64, 128, 256, 512]))
train_dataloader = dict(batch_size=4)  # x 8 GPUs, as the Context-Cluster schedule
