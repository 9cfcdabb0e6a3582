# Mask R-CNN 1x on COCO, CoC-medium with 49 centers per region.
# Published box / mask AP: 40.6 / 37.6.
# Train: tools/dist_train.sh configs/context_cluster/coc_medium_49_maskrcnn_coco.py 8
_base_ = './coc_medium_maskrcnn_coco.py'
model = dict(backbone=dict(proposals=7))
