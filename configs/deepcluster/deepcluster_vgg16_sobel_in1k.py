# The paper's setting: DeepCluster with VGG-16 (batch norm) on the Sobel edges of ImageNet
# images, k = 10,000, 500 epochs, 256 images per step at SGD lr 0.05 (8 GPUs x 32).
#   tools/dist_train.sh configs/deepcluster/deepcluster_vgg16_sobel_in1k.py 8
# One difference from the reference: there the 4096-wide fc6/fc7 layers of VGG sit between
# conv5 and the head and give the clustered features; here, as for every backbone in mmcoc,
# the clustered features are conv5 globally average-pooled (512 channels).
_base_ = '../_base_/deepcluster_imagenet.py'
model = dict(
    type='mmcoc.DeepCluster',
    data_preprocessor=dict(type='mmcoc.SobelDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], to_rgb=True),
    backbone=dict(type='mmcoc.VGG', depth=16, in_channels=2, norm_cfg=dict(type='BN'),
                  out_indices=(4, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes={{_base_.num_clusters}}, in_channels=512,
              loss=dict(type='CrossEntropyLoss')),
    head_init_std=0.01)
