# ImageNet-1k classification, CoC-tiny_plain (published top-1: 73.8), 8 GPUs x 128 images,
# 310 epochs.
# Train: tools/dist_train.sh configs/context_cluster/coc_tiny_plain_in1k.py 8
_base_ = './coc_small_in1k.py'
model = dict(backbone=dict(arch='tiny_plain'), head=dict(in_channels=320))
