# ImageNet-1k classification, FEC-large (published top-1: 81.2), FEC-small's recipe.
# Train: tools/dist_train.sh configs/fec/fec_large_in1k.py 8 --amp
_base_ = './fec_small_in1k.py'
model = dict(backbone=dict(arch='large'), head=dict(in_channels=512))
