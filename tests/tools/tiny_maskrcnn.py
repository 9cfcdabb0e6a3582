# The demo config (configs/demo/coc_tiny_maskrcnn_demo.py) on the tiny set of tests/conftest.py;
# the tests set data_root.
_base_ = '../../configs/demo/coc_tiny_maskrcnn_demo.py'
# an untrained detector scores low: keep every box so that the metrics are computed
model = dict(test_cfg=dict(rcnn=dict(score_thr=0.0)))
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False)
val_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False)
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=2, val_interval=2)
param_scheduler = []
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
