# The bundled one-shape classification set (tools/generate_demo_data.py --format imagenet) as
# the demo classifier, the DeepCluster demo and its linear probe read it: 64 px crops, RGB.
data_root = 'data/demo_shapes_cls'
classes = ('ellipse', 'rectangle', 'star', 'triangle')  # the class folders, sorted
crop_size = 64

data_preprocessor = dict(
    num_classes=len(classes),
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)  # the model sees RGB, as the ImageNet configs
train_pipeline = [
    # names an empty, truncated, undecodable or oversized image (on_error='skip' skips it)
    dict(type='mmcoc.LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=crop_size, crop_ratio_range=(0.5, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=int(crop_size / 0.9), edge='short'),  # crop ratio 0.9
    dict(type='CenterCrop', crop_size=crop_size),
    dict(type='PackInputs'),
]
dataset = dict(type='CustomDataset', data_root=data_root, classes=classes)
train_dataloader = dict(
    batch_size=16, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(**dataset, data_prefix='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=50, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**dataset, data_prefix='val', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
