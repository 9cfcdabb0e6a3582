"""The bundled demo data: textured, overlapping shapes on cluttered backgrounds.

Everything is drawn from a seed (no download), so every machine gets the same files. A scene is
a noisy background with clutter (lines and specks that are not objects), then a few shapes drawn
one over the other. Each class has its own outline and texture family; colours, size, rotation
and texture phase are random, so colour alone never tells the class. An object's mask is the part
of it still visible after the later shapes are drawn; a shape is placed only where it leaves the
ones below it visible enough, so every shape in the image is annotated.

``write_coco`` writes a COCO instance-segmentation set (polygon masks, boxes of the visible part);
``write_ade`` writes the same scenes as an ADE20K-layout semantic segmentation set;
``write_imagenet`` writes a classification set of one-shape images in ImageNet's folder layout.
"""
import colorsys
import json
from pathlib import Path
from typing import Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np
from pycocotools import mask as mask_utils

# Raised whenever the drawing changes, so that tools/generate_demo_data.py rewrites old sets.
# 4: the coco format in COCO's own layout; 3: clutter sizes drawn before their colours
GENERATOR_VERSION = 4

CLASSES = ('rectangle', 'ellipse', 'triangle', 'star')
# The semantic sets' classes, numbered from 1 in the label maps; 0 marks the clutter (lines and
# specks that belong to no class), which ADE's ``reduce_zero_label`` turns into "ignore" as it
# does ADE20K's own "other" pixels.
SEMANTIC_CLASSES = ('background', ) + CLASSES
# ``write_coco(categories='coco')`` names the shapes by COCO categories, so that a config reading
# COCO's 80 classes (mmdet's default metainfo) finds them: stand-ins chosen for their outline.
COCO_STAND_INS = dict(rectangle='tv', ellipse='sports ball', triangle='kite', star='stop sign')
# COCO's category ids run 1..90 with these ten unused (its 2014 paper list had 91 categories).
_COCO_UNUSED_IDS = (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)

MIN_VISIBLE_FRACTION = 0.4  # a shape stays at least this visible under the ones drawn later
MIN_VISIBLE_PIXELS = 48  # at 256 px; scaled with the image's area
PLACEMENT_ATTEMPTS = 10


def _color(rng, value_range=(0.55, 1.0), hue=None) -> np.ndarray:
    h = rng.random() if hue is None else hue % 1.0
    s, v = rng.uniform(0.5, 1.0), rng.uniform(*value_range)
    return np.array(colorsys.hsv_to_rgb(h, s, v), np.float32) * 255


def _background(rng, h, w) -> Tuple[np.ndarray, np.ndarray]:
    """A low-frequency colour field with pixel noise and clutter; the clutter's mask."""
    coarse = rng.uniform(20, 140, (3, 3, 3)).astype(np.float32)
    img = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    img += rng.normal(0, 12, (h, w, 3)).astype(np.float32)
    clutter = np.zeros((h, w), np.uint8)
    for _ in range(int(rng.integers(4, 10))):
        p0 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        thickness = int(rng.integers(1, 3))
        cv2.line(img, p0, p1, _color(rng, (0.3, 0.9)).tolist(), thickness)
        cv2.line(clutter, p0, p1, 1, thickness)
    for _ in range(int(rng.integers(5, 15))):
        center = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        radius = int(rng.integers(1, 4))
        cv2.circle(img, center, radius, _color(rng, (0.3, 0.9)).tolist(), -1)
        cv2.circle(clutter, center, radius, 1, -1)
    return img, clutter


def _outline(rng, label: int, cx: float, cy: float, radius: float) -> np.ndarray:
    """The polygon (int32 [K, 2], x y) of a shape of class ``label``."""
    angle = rng.uniform(0, 2 * np.pi)
    name = CLASSES[label]
    if name == 'ellipse':
        axes = (radius, radius * rng.uniform(0.55, 1.0))
        t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        pts = np.stack([axes[0] * np.cos(t), axes[1] * np.sin(t)], 1)
    elif name == 'rectangle':
        half = np.array([radius, radius * rng.uniform(0.5, 1.0)]) / np.sqrt(1.25)
        pts = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half
    elif name == 'triangle':
        t = np.array([0, 2 * np.pi / 3, 4 * np.pi / 3]) + rng.normal(0, 0.15, 3)
        pts = np.stack([np.cos(t), np.sin(t)], 1) * radius
    else:  # star, five points
        t = np.arange(10) * np.pi / 5
        r = np.where(np.arange(10) % 2 == 0, radius, radius * rng.uniform(0.4, 0.55))
        pts = np.stack([r * np.cos(t), r * np.sin(t)], 1)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return np.round(pts @ rot.T + (cx, cy)).astype(np.int32)


def _texture(rng, label: int, h: int, w: int) -> np.ndarray:
    """An [h, w, 3] texture from the family of class ``label``, in two random colours."""
    # a texture is always visible: its second colour is at least a third of the hue circle away
    hue = rng.random()
    c0, c1 = _color(rng, hue=hue), _color(rng, hue=hue + rng.uniform(1 / 3, 2 / 3))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = rng.uniform(0, np.pi)
    u = xx * np.cos(theta) + yy * np.sin(theta)
    v = -xx * np.sin(theta) + yy * np.cos(theta)
    period = rng.uniform(6, 11)
    name = CLASSES[label]
    if name == 'rectangle':  # stripes
        t = (np.sin(2 * np.pi * u / period) > 0).astype(np.float32)
    elif name == 'ellipse':  # dots
        t = ((np.mod(u, period) - period / 2) ** 2 + (np.mod(v, period) - period / 2) ** 2
             < (period / 3.5) ** 2).astype(np.float32)
    elif name == 'triangle':  # checks
        t = ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float32)
    else:  # smooth gradient
        t = (u - u.min()) / max(float(u.max() - u.min()), 1.0)
    tex = c0 * (1 - t[..., None]) + c1 * t[..., None]
    return tex + rng.normal(0, 8, (h, w, 3)).astype(np.float32)


def _polygons(mask: np.ndarray):
    """COCO polygons of a binary mask, or None where polygons cannot represent it (holes)."""
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None or (hierarchy[0][:, 3] >= 0).any():  # a contour inside another = hole
        return None
    polys = [c.reshape(-1).astype(float).tolist() for c in contours if len(c) >= 3]
    return polys or None


class Scene(NamedTuple):
    image: np.ndarray  # [H, W, 3] uint8 RGB
    instances: List[Dict]  # label, mask, polygons, bbox (x, y, w, h of the visible part)
    clutter: np.ndarray  # [H, W] uint8, 1 where a clutter line or speck stays visible

    def semantic_labels(self) -> np.ndarray:
        """The [H, W] uint8 label map: 0 clutter, 1 background, 2 + label for each shape."""
        labels = np.where(self.clutter.astype(bool), 0, 1).astype(np.uint8)
        for inst in self.instances:
            labels[inst['mask'].astype(bool)] = 2 + inst['label']
        return labels


def render_scene(rng: np.random.Generator, height: int, width: int,
                 max_objects: int = 6) -> Scene:
    """One scene: an image, its instances and its clutter. Every shape in it is annotated."""
    img, clutter = _background(rng, height, width)
    side = min(height, width)
    min_pixels = max(8, MIN_VISIBLE_PIXELS * side * side // 256**2)
    objects = []
    for _ in range(int(rng.integers(2, max_objects + 1))):
        for _attempt in range(PLACEMENT_ATTEMPTS):
            label = int(rng.integers(len(CLASSES)))
            radius = rng.uniform(0.12, 0.26) * side
            cx, cy = rng.uniform(0.05, 0.95) * width, rng.uniform(0.05, 0.95) * height
            mask = np.zeros((height, width), np.uint8)
            cv2.fillPoly(mask, [_outline(rng, label, cx, cy, radius)], 1)
            covered = mask.astype(bool)
            # the shapes below keep enough of themselves visible, without holes (which COCO
            # polygons cannot represent)
            below = [np.where(covered, 0, obj['mask']).astype(np.uint8) for obj in objects]
            if mask.sum() >= min_pixels and all(
                    v.sum() >= max(min_pixels, MIN_VISIBLE_FRACTION * obj['area'])
                    and _polygons(v) is not None for v, obj in zip(below, objects)):
                break
        else:
            continue  # no room for another shape
        img[covered] = _texture(rng, label, height, width)[covered]
        for obj, visible in zip(objects, below):
            obj['mask'] = visible
        objects.append(dict(label=label, mask=mask, area=int(mask.sum())))
    instances = []
    for obj in objects:
        polygons = _polygons(obj['mask'])
        # the annotation is what the polygons cover as COCO tools (and mmdet) rasterise them,
        # so that masks, boxes and areas agree exactly
        mask = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polygons, height, width)))
        instances.append(dict(label=obj['label'], mask=mask, polygons=polygons,
                              bbox=[int(v) for v in cv2.boundingRect(mask)]))
    visible_clutter = clutter.copy()
    for obj in objects:
        visible_clutter[obj['mask'].astype(bool)] = 0
    return Scene(np.clip(img, 0, 255).astype(np.uint8), instances, visible_clutter)


def _split_canvases(count: int, size_range: Sequence[int], seed: int,
                    offset: int) -> Iterator[Tuple[np.random.Generator, int, int]]:
    """The generator and image size of each of ``count`` images of one split. Heights and
    widths are drawn from ``size_range`` (inclusive), so most are not multiples of 32; split
    ``offset`` of a ``seed`` always gives the same stream."""
    rng = np.random.default_rng([seed, offset])
    for _ in range(count):
        h, w = (int(v) for v in rng.integers(size_range[0], size_range[1] + 1, 2))
        yield rng, h, w


def draw_split(count: int, size_range: Sequence[int], seed: int, offset: int,
               max_objects: int = 6) -> Iterator[Scene]:
    """The ``count`` scenes of one split (sizes and seeding: ``_split_canvases``), the same
    whatever the format they are written in."""
    for rng, h, w in _split_canvases(count, size_range, seed, offset):
        yield render_scene(rng, h, w, max_objects)


Progress = Optional[Callable[[str, int, int], None]]  # (split, images written, of how many)


def coco_files(split: str):
    """(image folder, annotation file) of a split in COCO's own layout, relative to its root:
    ``train2017/``, ``annotations/instances_train2017.json``, as mmdet's COCO configs read."""
    return f'{split}2017/', f'annotations/instances_{split}2017.json'


def coco_categories(vocabulary: str = 'shapes') -> Tuple[List[dict], List[int]]:
    """The ``categories`` of a demo COCO file and the category id of each of ``CLASSES``.

    ``shapes``: the four shapes, ids 1-4 (what the demo configs' ``metainfo`` names);
    ``coco``: COCO's 80 categories with COCO's ids and names, the shapes annotated as their
    ``COCO_STAND_INS``, so that a published COCO config reads the set unchanged."""
    if vocabulary == 'shapes':
        return [dict(id=i + 1, name=name) for i, name in enumerate(CLASSES)], \
            list(range(1, len(CLASSES) + 1))
    if vocabulary != 'coco':
        raise ValueError(f"categories must be 'shapes' or 'coco', not {vocabulary!r}")
    from mmdet.datasets import CocoDataset  # the class names as mmdet's COCO configs read them
    names = CocoDataset.METAINFO['classes']
    ids = [i for i in range(1, 91) if i not in _COCO_UNUSED_IDS]
    categories = [dict(id=i, name=name) for i, name in zip(ids, names)]
    id_of = {c['name']: c['id'] for c in categories}
    return categories, [id_of[COCO_STAND_INS[name]] for name in CLASSES]


def write_coco(root, splits: Dict[str, int], size_range: Sequence[int] = (224, 288),
               seed: int = 0, max_objects: int = 6, progress: Progress = None,
               categories: str = 'shapes') -> Path:
    """Write the scenes in COCO's own layout under ``root`` (``coco_files``: ``train2017/NNNN.png``
    and ``annotations/instances_train2017.json``, COCO instances with polygon masks, for each
    split); ``splits`` maps a split name (``train``, ``val``) to its number of images;
    ``progress`` is called after each image; ``categories`` is a ``coco_categories``
    vocabulary."""
    root = Path(root)
    categories, category_ids = coco_categories(categories)
    (root / 'annotations').mkdir(parents=True, exist_ok=True)
    for offset, (split, count) in enumerate(splits.items()):
        folder, ann_file = coco_files(split)
        (root / folder).mkdir(parents=True, exist_ok=True)
        images, annotations = [], []
        for i, scene in enumerate(draw_split(count, size_range, seed, offset, max_objects)):
            name = f'{i:04d}.png'
            cv2.imwrite(str(root / folder / name), scene.image[..., ::-1])
            h, w = scene.image.shape[:2]
            images.append(dict(id=i + 1, file_name=name, height=h, width=w))
            for inst in scene.instances:
                annotations.append(dict(
                    id=len(annotations) + 1, image_id=i + 1,
                    category_id=category_ids[inst['label']], iscrowd=0, bbox=inst['bbox'],
                    area=float(inst['mask'].sum()), segmentation=inst['polygons']))
            if progress:
                progress(split, i + 1, count)
        (root / ann_file).write_text(json.dumps(
            dict(images=images, annotations=annotations, categories=categories)))
    return root


def write_ade(root, splits: Dict[str, int], size_range: Sequence[int] = (224, 288),
              seed: int = 0, max_objects: int = 6, progress: Progress = None) -> Path:
    """Write the scenes in ADE20K's layout under ``root``: ``images/{split}/NNNN.jpg`` and
    ``annotations/{split}/NNNN.png`` label maps (``Scene.semantic_labels``); ``splits`` maps
    a split name (ADE's are ``training`` and ``validation``) to its number of images."""
    root = Path(root)
    for offset, (split, count) in enumerate(splits.items()):
        (root / 'images' / split).mkdir(parents=True, exist_ok=True)
        (root / 'annotations' / split).mkdir(parents=True, exist_ok=True)
        for i, scene in enumerate(draw_split(count, size_range, seed, offset, max_objects)):
            cv2.imwrite(str(root / 'images' / split / f'{i:04d}.jpg'), scene.image[..., ::-1],
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
            cv2.imwrite(str(root / 'annotations' / split / f'{i:04d}.png'),
                        scene.semantic_labels())
            if progress:
                progress(split, i + 1, count)
    return root


def render_object(rng: np.random.Generator, height: int, width: int, label: int) -> np.ndarray:
    """A [H, W, 3] uint8 RGB image of one shape of class ``label`` over a cluttered background."""
    img, _ = _background(rng, height, width)
    side = min(height, width)
    radius = rng.uniform(0.25, 0.42) * side
    cx, cy = rng.uniform(0.35, 0.65) * width, rng.uniform(0.35, 0.65) * height
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [_outline(rng, label, cx, cy, radius)], 1)
    covered = mask.astype(bool)
    img[covered] = _texture(rng, label, height, width)[covered]
    return np.clip(img, 0, 255).astype(np.uint8)


def write_imagenet(root, splits: Dict[str, int], size_range: Sequence[int] = (96, 128),
                   seed: int = 0, progress: Progress = None) -> Path:
    """Write a classification set in ImageNet's folder layout under ``root``:
    ``{split}/{class}/NNNN.png``, one shape per image, the classes in turn so that every split
    is balanced; ``splits`` maps a split name to its number of images."""
    root = Path(root)
    for offset, (split, count) in enumerate(splits.items()):
        for name in CLASSES:
            (root / split / name).mkdir(parents=True, exist_ok=True)
        for i, (rng, h, w) in enumerate(_split_canvases(count, size_range, seed, offset)):
            label = i % len(CLASSES)
            image = render_object(rng, h, w, label)
            cv2.imwrite(str(root / split / CLASSES[label] / f'{i:04d}.png'), image[..., ::-1])
            if progress:
                progress(split, i + 1, count)
    return root
