# The segmentation demo config (configs/demo/coc_tiny_fpn_demo.py) on the tiny ADE-layout set of
# tests/conftest.py; the tests set data_root.
_base_ = '../../configs/demo/coc_tiny_fpn_demo.py'
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False)
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = val_dataloader
train_cfg = dict(max_iters=2, val_interval=2)
param_scheduler = []
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2))
