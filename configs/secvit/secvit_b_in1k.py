# ImageNet-1k classification, SecViT-B (the official code's "M"; published top-1: 85.0, 55M
# params, 9.7 GFLOPs), the recipe of secvit_t_in1k.py (drop path 0.4, layer scale in stages 3-4).
# Train: tools/dist_train.sh configs/secvit/secvit_b_in1k.py 8
_base_ = './secvit_t_in1k.py'
model = dict(backbone=dict(arch='b'))
