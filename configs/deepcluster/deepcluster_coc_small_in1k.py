# DeepCluster pretraining of a CoC-small backbone on ImageNet (RGB input: Context Clusters
# cluster points by their colour and position features), k = 10,000, 200 epochs, 8 GPUs x 32
# images. AdamW instead of the reference's SGD: CoC is a MetaFormer with GroupNorm and
# trains with AdamW in every published recipe (and in the demo, where SGD did not learn), at
# the published CoC rate of 1e-3 per 1024 images.
#   tools/dist_train.sh configs/deepcluster/deepcluster_coc_small_in1k.py 8
# Probe it with configs/deepcluster/linear_probe_coc_small_in1k.py.
_base_ = '../_base_/deepcluster_imagenet.py'
model = dict(
    type='mmcoc.DeepCluster',
    backbone=dict(type='mmcoc.ContextCluster', arch='small', out_indices=3,
                  drop_path_rate=0.1),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes={{_base_.num_clusters}}, in_channels=512,
              loss=dict(type='CrossEntropyLoss')),
    head_init_std=0.01)
max_epochs = 200
train_cfg = dict(max_epochs=max_epochs)
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=2.5e-4, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0),
    clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=5, end=max_epochs),
]
