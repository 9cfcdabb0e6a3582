from .synthetic_shapes import (CLASSES, GENERATOR_VERSION, SEMANTIC_CLASSES, Scene, draw_split,
                               render_scene, write_ade, write_coco)

__all__ = ['CLASSES', 'GENERATOR_VERSION', 'SEMANTIC_CLASSES', 'Scene', 'draw_split',
           'render_scene', 'write_ade', 'write_coco']
