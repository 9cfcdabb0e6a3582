# The demo's linear probe on the same backbone at random weights, drawn as the DeepCluster
# pretraining draws them before its first step: the baseline that the pretrained backbone
# must beat (make demo-deepcluster).
_base_ = './linear_probe_coc_tiny_plain_sobel_demo.py'
model = dict(backbone=dict(init_cfg=dict(_delete_=True, **_base_.backbone_init)))
