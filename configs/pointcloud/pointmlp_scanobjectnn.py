# PointMLP on ScanObjectNN: PointMLP_CoC without its context-cluster blocks (the official
# pointMLP), the same recipe. The baseline of the benchmark in docs/pointcloud.md.
_base_ = ['./pointmlp_coc_scanobjectnn.py']
model = dict(backbone=dict(context_cluster=False))
