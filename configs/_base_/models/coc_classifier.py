# An mmpretrain ImageClassifier on a Context-Cluster backbone, laid out as the official
# classifier: the last stage's map, its norm (the backbone's norm3), global average, linear head.
# Label smoothing 0.1, Mixup 0.8 and CutMix 1.0 as in the published recipe.
_base_ = '../default_runtime.py'
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmcoc.ContextCluster',
        arch='small',
        out_indices=3,
        drop_path_rate=0.1,
        # 1 + sum(sim) (the paper's Eq. 1): the official code since 2023-05-31, which trained
        # the ImageNet checkpoints of the published 73.2 / 73.8 / 78.1 / 81.2
        cluster_normalizer='similarity'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=512,
        init_cfg=None,  # the backbone's own initialisation covers the head's Linear
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        cal_acc=False),
    init_cfg=[dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.)],
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))
