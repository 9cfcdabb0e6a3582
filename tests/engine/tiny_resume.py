# tests/tools/tiny_maskrcnn.py at 64 px, 2 epochs of 2 iterations, a checkpoint after every
# iteration (two kept), validation after every epoch, warm-up and an epoch step in the schedule,
# seeded and deterministic; tests/engine/interruptions.py kills it where MMCOC_TEST_KILL says.
_base_ = '../tools/tiny_maskrcnn.py'
custom_imports = dict(imports=['mmcoc', 'interruptions'], allow_failed_imports=False)
custom_hooks = [dict(type='InterruptionHook')]
image_scale = (64, 64)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=2, val_interval=1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=3),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=2, milestones=[1], gamma=0.5),
]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=1, max_keep_ckpts=2))
randomness = dict(seed=0, deterministic=True)
