from .synthetic_shapes import (CLASSES, GENERATOR_VERSION, SEMANTIC_CLASSES, Scene, draw_split,
                               render_object, render_scene, write_ade, write_coco,
                               write_imagenet)
from .transforms import LoadImageFromFile, image_bytes_problem

__all__ = ['CLASSES', 'GENERATOR_VERSION', 'SEMANTIC_CLASSES', 'Scene', 'draw_split',
           'render_object', 'render_scene', 'write_ade', 'write_coco', 'write_imagenet']
__all__ += ['LoadImageFromFile', 'image_bytes_problem']
from .point_transforms import PackPointCloudInputs, RandomScaleShiftPoints, ShufflePoints
from .scanobjectnn import ScanObjectNN
from .synthetic_pointclouds import (POINTCLOUD_CLASSES, write_scanobjectnn_h5,
                                    write_synthetic_scanobjectnn)

__all__ += ['POINTCLOUD_CLASSES', 'PackPointCloudInputs', 'RandomScaleShiftPoints',
            'ScanObjectNN',
            'ShufflePoints', 'write_scanobjectnn_h5', 'write_synthetic_scanobjectnn']
