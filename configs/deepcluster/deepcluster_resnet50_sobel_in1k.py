# DeepCluster with mmpretrain's ResNet-50 on the Sobel edges of ImageNet images, k = 10,000,
# 200 epochs, the paper's 256 images per step at SGD lr 0.05 (8 GPUs x 32). OpenMMLab's old
# self-supervised toolbox ran 8 GPUs x 64 at lr 0.1, the same rate per image (--cfg-options
# train_dataloader.batch_size=64 --auto-scale-lr); its linear probes from ResNet stages 1-5
# reached top-1 12.78 / 30.81 / 43.88 / 57.71 / 51.68 (46.92 from the average-pooled last
# stage, the probe of
# configs/deepcluster/linear_probe_resnet50_sobel_in1k.py). Not reproduced here (no ImageNet,
# no GPUs on the development machine).
#   tools/dist_train.sh configs/deepcluster/deepcluster_resnet50_sobel_in1k.py 8
_base_ = '../_base_/deepcluster_imagenet.py'
model = dict(
    type='mmcoc.DeepCluster',
    data_preprocessor=dict(type='mmcoc.SobelDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], to_rgb=True),
    backbone=dict(type='ResNet', depth=50, in_channels=2, out_indices=(3, ),
                  norm_cfg=dict(type='SyncBN')),  # BN on a CPU or in one process (the tools)
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes={{_base_.num_clusters}}, in_channels=2048,
              loss=dict(type='CrossEntropyLoss')),
    head_init_std=0.01)
train_cfg = dict(max_epochs=200)
