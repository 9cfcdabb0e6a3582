# DeepCluster on ImageNet-1k as the reference runs it (Caron et al., ECCV'18): training on
# random-resized 224 px crops and flips, k-means once per epoch on the features of resize-256
# center-crop-224 images, PCA-whitened to 256 dimensions, 20 Lloyd iterations (faiss), k =
# 10,000, samples drawn uniformly over clusters; SGD lr 0.05, momentum 0.9, weight decay 1e-5,
# 256 images per step (the paper's batch, which the reference trains on one GPU; here 8 GPUs x
# 32 images). The configs that inherit this set the model and the number of epochs.
# The labels of ImageNet are read only for the NMI of the clusters against them.
_base_ = ['mmpretrain::_base_/default_runtime.py', './default_runtime.py']
num_clusters = 10000
# RGB input (the Runner merges this into the model unless the model sets its own)
data_preprocessor = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                         to_rgb=True)
train_pipeline = [
    # names an empty, truncated, undecodable or oversized image (on_error='skip' skips it)
    dict(type='mmcoc.LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
extract_pipeline = [
    dict(type='mmcoc.LoadImageFromFile'),  # every image is needed: no on_error='skip'
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32, num_workers=8, persistent_workers=True,
    sampler=dict(type='mmcoc.ClusterUniformSampler'),
    dataset=dict(type='ImageNet', data_root='data/imagenet', split='train',
                 pipeline=train_pipeline))
custom_hooks = [
    dict(type='mmcoc.DeepClusterHook', pipeline=extract_pipeline, pca_dim=256,
         kmeans_iters=20, backend='auto', batch_size=256),
]
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-5))
train_cfg = dict(by_epoch=True, max_epochs=500)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=256)
