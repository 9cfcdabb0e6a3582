# Semantic FPN 80k on ADE20K, CoC-small with 25 centers per region.
# Published mIoU: 36.4.
# Train: tools/dist_train.sh configs/context_cluster/coc_small_25_fpn_ade20k.py 8
_base_ = './coc_small_fpn_ade20k.py'
model = dict(backbone=dict(proposals=5))
