# The Context-Cluster backbone for dense prediction (CoC-small, 4 centers per region), to be
# inherited by detection and segmentation configs, which override arch/proposals as needed.
custom_imports = dict(imports=['mmcoc'], allow_failed_imports=False)
backbone = dict(
    type='mmcoc.ContextCluster',
    arch='small',
    proposals=2,
    folds=[8, 4, 2, 1],
    out_indices=(0, 1, 2, 3),
    drop_path_rate=0.1,
    init_cfg=None)
