from .point_transforms import PackPointCloudInputs, RandomScaleShiftPoints, ShufflePoints
from .scanobjectnn import ScanObjectNN
from .synthetic_pointclouds import (
    POINTCLOUD_CLASSES,
    write_scanobjectnn_h5,
    write_synthetic_scanobjectnn,
)
from .synthetic_shapes import (
    CLASSES,
    COCO_STAND_INS,
    GENERATOR_VERSION,
    SEMANTIC_CLASSES,
    Scene,
    coco_categories,
    coco_files,
    draw_split,
    render_object,
    render_scene,
    write_ade,
    write_coco,
    write_imagenet,
)
from .transforms import LoadImageFromFile, image_bytes_problem

__all__ = ['CLASSES', 'COCO_STAND_INS', 'GENERATOR_VERSION', 'LoadImageFromFile',
           'POINTCLOUD_CLASSES', 'PackPointCloudInputs', 'RandomScaleShiftPoints',
           'SEMANTIC_CLASSES', 'Scene', 'ScanObjectNN', 'ShufflePoints', 'coco_categories',
           'coco_files', 'draw_split', 'image_bytes_problem', 'render_object', 'render_scene',
           'write_ade', 'write_coco', 'write_imagenet', 'write_scanobjectnn_h5',
           'write_synthetic_scanobjectnn']
