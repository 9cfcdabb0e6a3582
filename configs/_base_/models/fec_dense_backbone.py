# The FEC backbones of the detection and segmentation models (FEC-small), replacing whatever
# backbone the OpenMMLab base model has, with the released dense-prediction settings.
_fec_backbone = dict(_delete_=True, type='mmcoc.FEC', arch='small', out_indices=(0, 1, 2, 3))
# Mask R-CNN: 7x7 centers in every stage, 2x2 regions in the first two stages (1333x800 images
# would not fit in memory otherwise)
fec_detection_backbone = dict(_fec_backbone, proposals=7, folds=[2, 2, 1, 1])
# Semantic FPN (512 px crops): 10x10 centers in the first two stages, 5x5 after, no regions
fec_segmentation_backbone = dict(_fec_backbone, proposals=[10, 10, 5, 5], folds=1)
