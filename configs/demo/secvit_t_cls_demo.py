# Image classification with a SecViT-T backbone on the bundled one-shape images (the setting of
# coc_tiny_plain_cls_demo.py: random initial weights, 64 px crops, batches of 16, 12 epochs).
# Train: tools/train.py configs/demo/secvit_t_cls_demo.py (data: make demo-cls-data)
_base_ = './coc_tiny_plain_cls_demo.py'
model = dict(
    backbone=dict(
        _delete_=True, type='mmcoc.SecViT', arch='t', out_indices=3, norm_outputs=False,
        drop_path_rate=0.0),
    neck=dict(_delete_=True, type='mmcoc.SecViTNeck', in_channels=512),
    head=dict(in_channels=1024))
