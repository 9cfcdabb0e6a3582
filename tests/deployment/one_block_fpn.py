# The segmentation demo config with one block per stage (the same clustering layers, mmseg
# neck and head): an export the test suite can afford.
_base_ = '../../configs/demo/coc_tiny_fpn_demo.py'
model = dict(backbone=dict(arch=dict(
    _delete_=True, layers=[1, 1, 1, 1], embed_dims=[32, 64, 196, 320], heads=[2, 2, 4, 4],
    head_dim=8, proposals=2, folds=[4, 2, 1, 1])))
