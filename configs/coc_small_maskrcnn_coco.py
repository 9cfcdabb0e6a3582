# Mask R-CNN 1x on COCO with a CoC-small backbone: the family config, at the path of the
# project's own command `python tools/train.py configs/coc_small_maskrcnn_coco.py`.
_base_ = ['./context_cluster/coc_small_maskrcnn_coco.py']
