# The classification demo config (configs/demo/coc_tiny_plain_cls_demo.py) on the tiny
# ImageNet-layout set of tests/conftest.py; the tests set data_root.
_base_ = '../../configs/demo/coc_tiny_plain_cls_demo.py'
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False)
val_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False)
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=1, val_interval=1)
param_scheduler = []
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
