# Linear probe of a Sobel-input ResNet-50 (e.g. DeepCluster,
# configs/deepcluster/deepcluster_resnet50_sobel_in1k.py): the backbone frozen with its
# batch-norm statistics, a linear head on the average-pooled last stage trained on ImageNet's
# labels (the old OpenMMLab toolbox reported 46.92 top-1 here for DeepCluster); SGD lr 0.01,
# momentum 0.9, weight decay 1e-4, steps at 60 and 80 of 100 epochs, 8 GPUs x 32 images.
# The weights come from any checkpoint holding them under ``backbone.``:
#   tools/dist_train.sh configs/deepcluster/linear_probe_resnet50_sobel_in1k.py 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/datasets/imagenet_bs32_pil_resize.py',
    'mmpretrain::_base_/schedules/imagenet_sgd_steplr_100e.py',
    'mmpretrain::_base_/default_runtime.py',
    '../_base_/default_runtime.py',
]
model = dict(
    data_preprocessor=dict(type='mmcoc.SobelDataPreprocessor', num_classes=1000,
                           mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           to_rgb=True),
    backbone=dict(
        in_channels=2, frozen_stages=4, norm_eval=True,
        init_cfg=dict(type='Pretrained', prefix='backbone.',
                      checkpoint='work_dirs/deepcluster_resnet50_sobel_in1k/epoch_200.pth')))
optim_wrapper = dict(optimizer=dict(lr=0.01))
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
