# mmdet's Mask R-CNN with a Context-Cluster backbone (CoC-small, 4 centers per region).
_base_ = ['mmdet::_base_/models/mask-rcnn_r50_fpn.py', './coc_dense_backbone.py',
          '../default_runtime.py']
model = dict(
    backbone={{_base_.coc_dense_backbone}},
    neck=dict(in_channels=[64, 128, 320, 512]))
