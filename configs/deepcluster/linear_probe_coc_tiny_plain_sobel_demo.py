# Linear probe of the DeepCluster demo's CoC-tiny_plain (Sobel input, BatchNorm) on the demo
# shapes: the backbone frozen (all four stages, their BatchNorm statistics and the output norm),
# its average-pooled last stage standardised by a BatchNorm without affine parameters (as MAE's
# probes do; a BatchNorm backbone at random initialisation has running statistics 0 and 1, its
# pooled features reach ~1e6 and SGD diverged without it), a linear head trained on the true
# labels; top-1 on the 200 validation images. The weights come from any checkpoint holding them
# under ``backbone.`` (a DeepCluster run, an mmpretrain classifier):
#   tools/train.py configs/deepcluster/linear_probe_coc_tiny_plain_sobel_demo.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/.../epoch_8.pth
# linear_probe_coc_tiny_plain_sobel_demo_random_init.py probes the same backbone at random
# weights.
_base_ = [
    '../_base_/models/coc_tiny_plain_sobel_demo.py',
    '../_base_/datasets/demo_shapes_cls.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(
    type='ImageClassifier',
    backbone=dict(
        frozen_stages=4,
        init_cfg=dict(_delete_=True, type='Pretrained', prefix='backbone.',
                      checkpoint='work_dirs/deepcluster_coc_tiny_plain_sobel_demo/epoch_8.pth')),
    neck=[dict(type='GlobalAveragePooling'), dict(type='ClsBatchNormNeck', input_features=320)],
    head=dict(type='LinearClsHead', num_classes={{_base_.data_preprocessor.num_classes}},
              in_channels=320, loss=dict(type='CrossEntropyLoss')))
# Trained on the features of center crops, without random augmentation (a logistic regression
# on fixed features, as SimCLR-style probes of small sets do).
train_dataloader = dict(batch_size=32, dataset=dict(pipeline={{_base_.test_pipeline}}))

max_epochs = 10
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.))
param_scheduler = [
    dict(type='CosineAnnealingLR', eta_min=0., by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=5),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1))
randomness = dict(seed=0)
