# The point-cloud demo config (configs/pointcloud/pointmlp_coc_demo.py) shrunk for a test that
# it learns: 4 classes of the synthetic set, 64 points, k = 8, about 150 steps. The tests set
# data_root.
_base_ = '../../configs/pointcloud/pointmlp_coc_demo.py'
classes = ('sphere', 'box', 'torus', 'table')
dataset = dict(num_points=64, metainfo=dict(classes=classes))
model = dict(backbone=dict(points=64, k_neighbors=(8, 8, 8, 8)),
             head=dict(num_classes=4, loss=dict(label_smooth_val=0.2 * 4 / 3)))
train_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dataset)
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dataset)
test_dataloader = val_dataloader
max_epochs = 20
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=2e-5, by_epoch=True,
                        begin=0, end=max_epochs)]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=max_epochs))
