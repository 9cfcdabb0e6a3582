# Linear probe of a CoC-small backbone on ImageNet: every stage frozen (GroupNorm has no
# statistics to keep), a linear head on the normed, average-pooled last stage trained on the
# labels; the schedule of linear_probe_resnet50_sobel_in1k.py. The weights come from any
# checkpoint holding them under ``backbone.`` (DeepCluster,
# configs/deepcluster/deepcluster_coc_small_in1k.py, an mmpretrain classifier) or an official
# Context-Cluster release:
#   tools/dist_train.sh configs/deepcluster/linear_probe_coc_small_in1k.py 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    '../_base_/models/coc_classifier.py',
    'mmpretrain::_base_/datasets/imagenet_bs32_pil_resize.py',
    'mmpretrain::_base_/schedules/imagenet_sgd_steplr_100e.py',
    'mmpretrain::_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        arch='small', drop_path_rate=0., frozen_stages=4,
        init_cfg=dict(type='Pretrained', prefix='backbone.',
                      checkpoint='work_dirs/deepcluster_coc_small_in1k/epoch_200.pth')),
    head=dict(in_channels=512, loss=dict(_delete_=True, type='CrossEntropyLoss')),
    train_cfg=dict(_delete_=True),  # no Mixup/CutMix in a linear probe
    init_cfg=None)
optim_wrapper = dict(optimizer=dict(lr=0.01))
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
