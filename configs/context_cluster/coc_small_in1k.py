# ImageNet-1k classification, CoC-small (published top-1: 78.1),
# 8 GPUs x 128 images, 310 epochs.
# Train: tools/dist_train.sh configs/context_cluster/coc_small_in1k.py 8
_base_ = [
    '../_base_/models/coc_classifier.py',
    'mmpretrain::_base_/datasets/imagenet_bs128_poolformer_small_224.py',
    '../_base_/schedules/adamw_cosine_310e.py',
    'mmpretrain::_base_/default_runtime.py',
]
model = dict(backbone=dict(arch='small'), head=dict(in_channels=512))
