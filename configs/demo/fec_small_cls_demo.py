# Image classification with an FEC-small backbone on the bundled one-shape images, with the
# Context-Cluster classification demo's data, schedule and settings (random initial weights,
# 64 px crops, batches of 16, 12 epochs): tools/generate_demo_data.py --format imagenet writes
# the data, then tools/train.py configs/demo/fec_small_cls_demo.py.
_base_ = ['./coc_tiny_plain_cls_demo.py']
model = dict(
    backbone=dict(_delete_=True, type='mmcoc.FEC', arch='small', out_indices=3,
                  drop_path_rate=0.0),
    head=dict(in_channels=320))
