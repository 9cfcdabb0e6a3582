# An mmpretrain ImageClassifier on an FEC backbone, laid out as the official classifier (the
# Context-Cluster classifier's layout: last stage, its norm, global average, linear head).
_base_ = ['./coc_classifier.py']
model = dict(
    backbone=dict(_delete_=True, type='mmcoc.FEC', arch='small', out_indices=3,
                  drop_path_rate=0.1),
    head=dict(in_channels=320))
