# The DeepCluster demo config on the tiny ImageNet-layout set of tests/conftest.py (8 training
# images; the tests set data_root): k = 3, PCA to 4 dimensions, 2 epochs of 2 iterations, and
# a recorder of what each re-clustering left behind (deepcluster_recorder_hook.py, here).
_base_ = '../../../configs/deepcluster/deepcluster_coc_tiny_plain_sobel_demo.py'
custom_imports = dict(imports=['mmcoc', 'tests.engine.hooks.deepcluster_recorder_hook'],
                      allow_failed_imports=False)
model = dict(head=dict(num_classes=3))
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False)
custom_hooks = [
    dict(type='mmcoc.DeepClusterHook', pca_dim=4, batch_size=4, pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='ResizeEdge', scale=64, edge='short'),
        dict(type='CenterCrop', crop_size=64),
        dict(type='PackInputs'),
    ]),
    dict(type='DeepClusterRecorderHook'),
]
train_cfg = dict(max_epochs=2)
param_scheduler = []
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2))
