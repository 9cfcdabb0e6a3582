# The published Context-Cluster detection schedule: mmdet's 1x (12 epochs, steps at 8 and 11)
# with AdamW lr 2e-4, weight decay 1e-4, for 32 images per step (the official
# detection/configs/_base_/datasets/coco_instance.py: samples_per_gpu=4, trained on 8 GPUs).
# The configs set the images per GPU (train_dataloader.batch_size, 2 in mmdet's base).
_base_ = 'mmdet::_base_/schedules/schedule_1x.py'
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=1e-4))
auto_scale_lr = dict(enable=False, base_batch_size=32)
