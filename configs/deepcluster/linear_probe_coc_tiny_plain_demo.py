# Linear probe of a CoC-tiny_plain backbone on the demo shapes: the backbone frozen (all four
# stages and its output norm), a linear head on its average-pooled last stage trained on the
# true labels; top-1 on the 200 validation images. The backbone is the one of
# configs/deepcluster/deepcluster_coc_tiny_plain_demo.py (GroupNorm, so a frozen backbone has
# no batch statistics to get wrong). Its weights come from any checkpoint holding them under
# ``backbone.`` (a DeepCluster run, an mmpretrain classifier) or an official release:
#   tools/train.py configs/deepcluster/linear_probe_coc_tiny_plain_demo.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/.../epoch_8.pth
# and the same backbone at random initialisation with model.backbone.init_cfg=None.
_base_ = [
    '../_base_/datasets/demo_shapes_cls.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmcoc'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmcoc.ContextCluster', arch='tiny_plain', out_indices=3,
        cluster_normalizer='similarity', drop_path_rate=0.0, frozen_stages=4,
        init_cfg=dict(type='Pretrained', prefix='backbone.',
                      checkpoint='work_dirs/deepcluster_coc_tiny_plain_demo/epoch_8.pth')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes={{_base_.data_preprocessor.num_classes}},
              in_channels=320,
              loss=dict(type='CrossEntropyLoss')))
train_dataloader = dict(batch_size=32)

max_epochs = 10
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.))
param_scheduler = [
    dict(type='CosineAnnealingLR', eta_min=0., by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=5),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1))
randomness = dict(seed=0)
