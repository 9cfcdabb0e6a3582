# ImageNet weights that the detection and segmentation configs start from: the one place to set
# them. Official Context-Cluster releases (.pth.tar) load as they are; so do mmcoc checkpoints.
coc_small_imagenet = 'checkpoints/coc_small.pth.tar'
coc_medium_imagenet = 'checkpoints/coc_medium.pth.tar'
# official SecViT releases (DeiT-style {'model', 'model_ema'} dicts) load as they are
secvit_t_imagenet = 'checkpoints/secvit_t.pth'
secvit_s_imagenet = 'checkpoints/secvit_s.pth'
# official FEC releases (timm checkpoints in Context-Cluster's layout) load as they are
fec_small_imagenet = 'checkpoints/fec_small.pth.tar'
fec_base_imagenet = 'checkpoints/fec_base.pth.tar'
fec_large_imagenet = 'checkpoints/fec_large.pth.tar'
