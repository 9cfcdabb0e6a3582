# Mask R-CNN 1x on COCO, CoC-medium, trained with FSDP: weights, gradients and optimizer state
# sharded over the GPUs, one FSDP unit per backbone block (mmcoc.wrap_clustering_blocks), the
# neck and heads in the root unit. Model and schedule are coc_medium_maskrcnn_coco.py's, and the
# checkpoints whole models that tools/test.py and the apis read (state_dict_cfg='full').
# Train: tools/dist_train.sh configs/context_cluster/coc_medium_maskrcnn_coco_fsdp.py 8
_base_ = './coc_medium_maskrcnn_coco.py'
runner_type = 'mmcoc.RecoverableFlexibleRunner'
strategy = dict(
    type='FSDPStrategy',
    model_wrapper=dict(auto_wrap_policy=dict(type='mmcoc.wrap_clustering_blocks')))
