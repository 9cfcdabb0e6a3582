# Semantic FPN 80k on ADE20K, CoC-medium with 49 centers per region.
# Published mIoU: 40.8.
# Train: tools/dist_train.sh configs/context_cluster/coc_medium_49_fpn_ade20k.py 8
_base_ = './coc_medium_fpn_ade20k.py'
model = dict(backbone=dict(proposals=7))
