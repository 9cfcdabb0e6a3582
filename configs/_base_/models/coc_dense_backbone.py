# The Context-Cluster backbone of the detection and segmentation models (CoC-small, 4 centers
# per region, the official dense-prediction folds), replacing whatever backbone the OpenMMLab
# base model has.
coc_dense_backbone = dict(
    _delete_=True,
    type='mmcoc.ContextCluster',
    arch='small',
    proposals=2,
    folds=[8, 4, 2, 1],
    out_indices=(0, 1, 2, 3),
    # that of today's official ImageNet weights, which these configs fine-tune. The released
    # Mask R-CNN / Semantic FPN checkpoints (2023-03) were trained with 'count': evaluate or
    # fine-tune them with --cfg-options model.backbone.cluster_normalizer=count
    cluster_normalizer='similarity')
