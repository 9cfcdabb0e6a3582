# Mask R-CNN 1x on COCO, CoC-small with 49 centers per region.
# Published box / mask AP: 37.2 / 34.9.
# Train: tools/dist_train.sh configs/context_cluster/coc_small_49_maskrcnn_coco.py 8
_base_ = './coc_small_maskrcnn_coco.py'
model = dict(backbone=dict(proposals=7))
