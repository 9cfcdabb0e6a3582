# mmdet's Mask R-CNN with an FEC backbone (FEC-small, the released detection setting).
_base_ = ['mmdet::_base_/models/mask-rcnn_r50_fpn.py', './fec_dense_backbone.py',
          '../default_runtime.py']
model = dict(
    backbone={{_base_.fec_detection_backbone}},
    neck=dict(in_channels=[32, 64, 196, 320]))
