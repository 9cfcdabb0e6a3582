# PointMLP_CoC, scaled down to learn on a 2-core CPU in about 10 minutes from random weights,
# on the synthetic set in ScanObjectNN's layout (tools/generate_pointcloud_data.py: 10 classes,
# 1000 training and 300 test objects, partial noisy scans with background): 256 of the 2048
# points, embedding 16, one [context cluster, residual MLP] block and one residual MLP per stage,
# k = 16, a 256 -> 128 -> 64 -> 10 classifier; the published recipe otherwise (SGD momentum
# 0.9, weight decay 1e-4, cosine to lr / 100, batch 32, smoothing 0.2, the official
# augmentation), with lr 0.05 for the short schedule.
_base_ = ['./pointmlp_coc_scanobjectnn.py']

num_classes = 10
num_points = 256
classes = ('sphere', 'box', 'cylinder', 'cone', 'torus', 'table', 'chair', 'mushroom',
           'snowman', 'bench')  # data/synthetic_scanobjectnn/shape_names.txt
data_root = 'data/synthetic_scanobjectnn'

model = dict(
    backbone=dict(points=num_points, embed_dim=16, pre_blocks=(1, 1, 1, 1),
                  pos_blocks=(1, 1, 1, 1), k_neighbors=(16, 16, 16, 16)),
    head=dict(num_classes=num_classes, in_channels=256, hidden_channels=(128, 64),
              loss=dict(label_smooth_val=0.2 * num_classes / (num_classes - 1))))
dataset = dict(data_root=data_root, num_points=num_points, metainfo=dict(classes=classes))
train_dataloader = dict(num_workers=1, dataset=dataset)
val_dataloader = dict(num_workers=1, batch_size=50, dataset=dataset)
test_dataloader = val_dataloader

max_epochs = 20
optim_wrapper = dict(optimizer=dict(lr=0.05))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0.05 / 100,
                        by_epoch=True, begin=0, end=max_epochs)]
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1,
                    save_best=None, _delete_=True))
randomness = dict(seed=0)
