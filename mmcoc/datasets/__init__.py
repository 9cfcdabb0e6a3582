from .synthetic_shapes import (CLASSES, GENERATOR_VERSION, SEMANTIC_CLASSES, Scene, draw_split,
                               render_object, render_scene, write_ade, write_coco,
                               write_imagenet)
from .transforms import LoadImageFromFile, image_bytes_problem

__all__ = ['CLASSES', 'GENERATOR_VERSION', 'SEMANTIC_CLASSES', 'Scene', 'draw_split',
           'render_object', 'render_scene', 'write_ade', 'write_coco', 'write_imagenet']
__all__ += ['LoadImageFromFile', 'image_bytes_problem']
