from .synthetic_shapes import CLASSES, GENERATOR_VERSION, render_scene, write_coco

__all__ = ['CLASSES', 'GENERATOR_VERSION', 'render_scene', 'write_coco']
