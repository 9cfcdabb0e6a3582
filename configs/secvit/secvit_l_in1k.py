# ImageNet-1k classification, SecViT-L (published top-1: 85.6, 96M params, 18.1 GFLOPs),
# the recipe of secvit_t_in1k.py (drop path 0.5, layer scale in stages 3-4).
# Train: tools/dist_train.sh configs/secvit/secvit_l_in1k.py 8
_base_ = './secvit_t_in1k.py'
model = dict(backbone=dict(arch='l'), neck=dict(in_channels=640))
