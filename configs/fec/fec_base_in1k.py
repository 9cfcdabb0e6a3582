# ImageNet-1k classification, FEC-base (published top-1: 78.1), FEC-small's recipe.
# Train: tools/dist_train.sh configs/fec/fec_base_in1k.py 8 --amp
_base_ = './fec_small_in1k.py'
model = dict(backbone=dict(arch='base'), head=dict(in_channels=512))
