# tests/tools/tiny_cls.py under mmengine's FlexibleRunner with its DDP strategy, plain SGD and a
# gradient clip that bites (the gradient norm is about 4 here): two strategies that compute the
# same update end with the same weights (tiny_cls_fsdp.py).
_base_ = '../tools/tiny_cls.py'
runner_type = 'FlexibleRunner'
strategy = dict(type='DDPStrategy')
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper', optimizer=dict(type='SGD', lr=0.05, momentum=0.9),
    clip_grad=dict(max_norm=0.5))
train_cfg = dict(max_epochs=2, val_interval=1)
randomness = dict(seed=0)
