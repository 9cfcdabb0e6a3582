# Semantic FPN 80k on ADE20K, CoC-small with 49 centers per region.
# Published mIoU: 36.3.
# Train: tools/dist_train.sh configs/context_cluster/coc_small_49_fpn_ade20k.py 8
_base_ = './coc_small_fpn_ade20k.py'
model = dict(backbone=dict(proposals=7))
