# Mask R-CNN 1x on COCO, CoC-medium with 25 centers per region.
# Published box / mask AP: 40.1 / 37.4.
# Train: tools/dist_train.sh configs/context_cluster/coc_medium_25_maskrcnn_coco.py 8
_base_ = './coc_medium_maskrcnn_coco.py'
model = dict(backbone=dict(proposals=5))
