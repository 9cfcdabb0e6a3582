# The published Context-Cluster segmentation schedule (PVT's Semantic FPN recipe): 80k
# iterations, AdamW lr 1e-4, weight decay 1e-4, poly decay (power 0.9) to 0, for 8 GPUs x 4
# images; a checkpoint and an evaluation every 8k iterations.
_base_ = 'mmseg::_base_/schedules/schedule_80k.py'
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4))
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=80000, by_epoch=False)
]
auto_scale_lr = dict(enable=False, base_batch_size=32)
