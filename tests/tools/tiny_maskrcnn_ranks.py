# tiny_maskrcnn.py with every rank saving its final weights (tests/tools/rank_weights_hook.py).
_base_ = './tiny_maskrcnn.py'
custom_imports = dict(imports=['mmcoc', 'rank_weights_hook'],  # tests/tools on PYTHONPATH
                      allow_failed_imports=False)
custom_hooks = [dict(type='RankWeightsHook')]
train_cfg = dict(max_epochs=1, val_interval=1)
