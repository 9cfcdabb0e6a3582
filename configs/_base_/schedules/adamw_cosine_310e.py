# The published Context-Cluster ImageNet schedule (timm's training script as the official code
# runs it): AdamW lr 1e-3 for a total batch of 1024 (lr = 1e-3 x batch / 1024), weight decay
# 0.05 (none on norms, biases and other 1-d parameters), 5 warm-up epochs from 1e-6, cosine
# decay to 1e-5 at epoch 300, then 10 cool-down epochs at 1e-5: 310 epochs. EMA of the weights.
_base_ = 'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py'
optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=5, end=300),
]
train_cfg = dict(by_epoch=True, max_epochs=310, val_interval=1)
auto_scale_lr = dict(base_batch_size=1024)
custom_hooks = [dict(type='EMAHook', momentum=1e-4, priority='ABOVE_NORMAL')]
