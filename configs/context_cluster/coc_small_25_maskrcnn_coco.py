# Mask R-CNN 1x on COCO, CoC-small with 25 centers per region.
# Published box / mask AP: 37.5 / 35.4.
# Train: tools/dist_train.sh configs/context_cluster/coc_small_25_maskrcnn_coco.py 8
_base_ = './coc_small_maskrcnn_coco.py'
model = dict(backbone=dict(proposals=5))
