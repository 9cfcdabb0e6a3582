# mmdet's Mask R-CNN with a Context-Cluster backbone (CoC-small, 4 centers per region).
_base_ = 'mmdet::_base_/models/mask-rcnn_r50_fpn.py'
custom_imports = dict(imports=['mmcoc'], allow_failed_imports=False)
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmcoc.ContextCluster',
        arch='small',
        proposals=2,
        folds=[8, 4, 2, 1],
        out_indices=(0, 1, 2, 3),
        # the released ImageNet weights were trained with the released code's count normaliser
        cluster_normalizer='count'),
    neck=dict(in_channels=[64, 128, 320, 512]))
