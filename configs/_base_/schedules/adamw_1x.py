# The published Context-Cluster detection schedule: mmdet's 1x (12 epochs, steps at 8 and 11)
# with AdamW lr 2e-4, weight decay 1e-4, for 8 GPUs x 2 images.
_base_ = 'mmdet::_base_/schedules/schedule_1x.py'
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=1e-4))
auto_scale_lr = dict(enable=False, base_batch_size=16)
