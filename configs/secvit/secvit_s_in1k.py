# ImageNet-1k classification, SecViT-S (published top-1: 84.2, 27M params, 4.4 GFLOPs),
# the recipe of secvit_t_in1k.py (drop path 0.15).
# Train: tools/dist_train.sh configs/secvit/secvit_s_in1k.py 8
_base_ = './secvit_t_in1k.py'
model = dict(backbone=dict(arch='s'))
