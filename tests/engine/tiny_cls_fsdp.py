# tiny_cls_ddp.py with FSDP: one FSDP unit per block of the backbone, the rest in the root unit.
_base_ = './tiny_cls_ddp.py'
strategy = dict(_delete_=True, type='FSDPStrategy',
                model_wrapper=dict(auto_wrap_policy=dict(type='mmcoc.wrap_clustering_blocks')))
