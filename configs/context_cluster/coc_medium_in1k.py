# ImageNet-1k classification, CoC-medium (published top-1: 81.2),
# 8 GPUs x 128 images, 310 epochs.
# Train: tools/dist_train.sh configs/context_cluster/coc_medium_in1k.py 8
_base_ = './coc_small_in1k.py'
model = dict(backbone=dict(arch='medium'))
