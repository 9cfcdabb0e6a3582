# ImageNet weights that the detection and segmentation configs start from: the one place to set
# them. Official Context-Cluster releases (.pth.tar) load as they are; so do mmcoc checkpoints.
coc_small_imagenet = 'checkpoints/coc_small.pth.tar'
coc_medium_imagenet = 'checkpoints/coc_medium.pth.tar'
