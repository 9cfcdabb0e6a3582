from .synthetic_shapes import (CLASSES, GENERATOR_VERSION, SEMANTIC_CLASSES, Scene, draw_split,
                               render_object, render_scene, write_ade, write_coco,
                               write_imagenet)

__all__ = ['CLASSES', 'GENERATOR_VERSION', 'SEMANTIC_CLASSES', 'Scene', 'draw_split',
           'render_object', 'render_scene', 'write_ade', 'write_coco', 'write_imagenet']
