# ImageNet-1k classification, FEC-small (published top-1: 72.7), the released recipe: timm's
# training script with a total batch of 1024 (the official cmds/train.sh: 4 GPUs x 256; here
# 8 GPUs x 128 images), AdamW lr 1e-3, weight decay 0.05, drop path 0.1, 5 warm-up epochs,
# cosine to 1e-6 at epoch 300, 10 cool-down epochs, label smoothing 0.1, Mixup 0.8 / CutMix
# 1.0, RandAugment, random erasing 0.25, no EMA.
# The release trained with mixed precision: add --amp on GPUs.
# Train: tools/dist_train.sh configs/fec/fec_small_in1k.py 8 --amp
_base_ = [
    '../_base_/models/fec_classifier.py',
    'mmpretrain::_base_/datasets/imagenet_bs128_poolformer_small_224.py',
    '../_base_/schedules/adamw_cosine_310e.py',
    'mmpretrain::_base_/default_runtime.py',
]
model = dict(backbone=dict(arch='small'), head=dict(in_channels=320))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=5, end=300),
]
custom_hooks = []  # the released FEC models were trained without a weight EMA
