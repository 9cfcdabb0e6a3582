# mmseg's Semantic FPN with a Context-Cluster backbone (CoC-small, 4 centers per region).
_base_ = ['mmseg::_base_/models/fpn_r50.py', './coc_dense_backbone.py', '../default_runtime.py']
model = dict(
    # mmseg's EncoderDecoder with its prediction resized and argmaxed a few classes at a
    # time: a 12-megapixel photo needs under 3 GB instead of 7 GB (same labels)
    type='mmcoc.MemoryBoundedEncoderDecoder',
    # EncoderDecoder hands a model-level `pretrained` to the backbone; the ResNet URL of the
    # base must not reach ours (weights come through the backbone's init_cfg)
    pretrained=None,
    backbone={{_base_.coc_dense_backbone}},
    neck=dict(in_channels=[64, 128, 320, 512]),
    # mmseg's FPNHead, its scale heads added at exact bilinear weights (same checkpoints)
    decode_head=dict(type='mmcoc.StableResizeFPNHead'))
