# Semantic FPN 80k on ADE20K, CoC-medium with 25 centers per region.
# Published mIoU: 40.6.
# Train: tools/dist_train.sh configs/context_cluster/coc_medium_25_fpn_ade20k.py 8
_base_ = './coc_medium_fpn_ade20k.py'
model = dict(backbone=dict(proposals=5))
