"""Cluster maps: which center every point joined, read from a model's real forward pass.

A clustering layer follows one contract (``mmcoc.models.layers.RecordsAssignment``): a bool
attribute ``keep_assignment`` and, when it is set, ``last_assignment`` (``[B, heads, H, W]``,
long) written by its forward. Nothing here clusters anything: the backbone names its layers,
which are switched on for one forward, and what
they stored is drawn as coloured regions over the image (one colour per cluster, white
boundaries, each cluster's center marked).

Layers are named by their module path; their stage and block are what the backbone says
(``cluster_sites()`` of ``mmcoc.models.backbones.base.ClusteringBackbone``). A clustering layer in
the downsampling between stages (FEC's ``ClusterPool`` clusters the points of stage ``s - 1``
into those of stage ``s``) has no block number: it belongs to the stage it leads into and is
chosen by its path.
"""
import colorsys
import io
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
import torch.nn as nn
from PIL import Image, ImageOps, UnidentifiedImageError

# An upload above this many pixels is refused before decoding (a 48-megapixel photo passes).
MAX_IMAGE_PIXELS = 64_000_000
BOUNDARY_RGB = (255, 255, 255)


class ImageError(ValueError):
    """An input that is not a usable image; the message says what is wrong."""


# ----------------------------------------------------------------------------- images
def read_image(source: Union[str, os.PathLike, bytes, Image.Image, np.ndarray],
               max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Any image as ``[H, W, 3]`` uint8 RGB: gray, palette, RGBA (composited over white),
    16-bit and float images, EXIF-rotated photos, or an array that is already RGB."""
    if isinstance(source, np.ndarray):
        return _to_rgb8(source, 'the image array')
    try:
        image = source if isinstance(source, Image.Image) else Image.open(
            io.BytesIO(source) if isinstance(source, bytes) else source)
    except FileNotFoundError:
        raise ImageError(f'no image file at {source!r}') from None
    except Image.DecompressionBombError as err:  # its header claims a huge size
        raise ImageError(f'{_describe(source)} is refused before decoding: {err} Downscale it '
                         f'to at most {max_pixels / 1e6:.0f} megapixels first') from None
    except (UnidentifiedImageError, OSError) as err:
        raise ImageError(f'{_describe(source)} is not an image that can be read ({err}); use a '
                         'PNG, JPEG, BMP, TIFF or WebP file') from None
    except ValueError as err:  # PIL's limits, e.g. a PNG text chunk that inflates past 1 MB
        raise ImageError(f'{_describe(source)} is refused by the image reader\'s safety limits '
                         f'({err}): a decompression bomb or a damaged file. Save the picture '
                         'again without its metadata as a PNG, JPEG, BMP, TIFF or WebP file') \
            from None
    width, height = image.size
    if width * height > max_pixels:
        raise ImageError(f'{_describe(source)} is {width}x{height} pixels, more than the '
                         f'{max_pixels / 1e6:.0f} megapixels accepted; downscale it first')
    try:
        image = ImageOps.exif_transpose(image)
        if image.mode in ('RGBA', 'LA', 'PA') or (image.mode == 'P'
                                                  and 'transparency' in image.info):
            rgba = image.convert('RGBA')
            white = Image.new('RGBA', rgba.size, (255, 255, 255, 255))
            return np.asarray(Image.alpha_composite(white, rgba).convert('RGB'))
        if image.mode in ('1', 'L', 'P', 'CMYK', 'YCbCr', 'LAB', 'HSV', 'RGB', 'RGBX'):
            return np.asarray(image.convert('RGB'))
        # 16-bit and 32-bit integer or float modes
        return _to_rgb8(np.asarray(image), _describe(source))
    except ImageError:  # already says what is wrong
        raise
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise ImageError(f'{_describe(source)} could not be decoded ({err})') from None


def _describe(source) -> str:
    return 'the upload' if isinstance(source, (bytes, Image.Image)) else repr(str(source))


# 16-bit values to 8-bit ones, rint(x / 65535 * 255)
_UINT16_TO_UINT8 = np.rint(np.arange(65536) / 65535.0 * 255.0).astype(np.uint8)
_CHUNK = 1 << 18  # values converted at a time: 2 MB of temporaries at any image size


def _by_rows(array: np.ndarray, convert, shape=None) -> np.ndarray:
    """``convert`` applied to blocks of rows of ``array``, written into one uint8 array."""
    out = np.empty(shape or array.shape, np.uint8)
    step = max(1, _CHUNK // max(1, int(np.prod(array.shape[1:]))))
    for start in range(0, array.shape[0], step):
        out[start:start + step] = convert(array[start:start + step])
    return out


def _to_uint8(array: np.ndarray, what: str) -> np.ndarray:
    if np.issubdtype(array.dtype, np.floating):
        low, high = array.min(initial=0), array.max(initial=0)  # NaN and Inf propagate
        if not (np.isfinite(low) and np.isfinite(high)):
            bad = int(np.count_nonzero(~np.isfinite(array)))
            raise ImageError(f'{what} holds {bad} NaN or Inf values (of {array.size}), which '
                             'would turn black: check the file or the program that wrote it, '
                             'or replace them (numpy.nan_to_num) first')
        scale = 255.0 if high <= 1.0 else 1.0
        return _by_rows(array, lambda rows: np.clip(np.rint(rows * scale), 0, 255))
    if not np.issubdtype(array.dtype, np.integer):
        raise ImageError(f'{what} holds values of dtype {array.dtype}; an image array holds '
                         'integers (uint8, uint16) or floats')
    if array.dtype == np.uint16:
        return _by_rows(array, lambda rows: np.take(_UINT16_TO_UINT8, rows))
    if array.max(initial=0) > 255:  # another integer type holding 16-bit values
        return _by_rows(array, lambda rows: np.take(_UINT16_TO_UINT8,
                                                    np.clip(rows, 0, 65535)))
    return _by_rows(array, lambda rows: np.clip(rows, 0, 255))


def _over_white(rgba: np.ndarray) -> np.ndarray:
    alpha = rgba[..., 3:].astype(np.float32) / 255.0
    return np.rint(rgba[..., :3] * alpha + 255.0 * (1 - alpha))


def _to_rgb8(array: np.ndarray, what: str = 'the image') -> np.ndarray:
    """``[H, W, 3]`` uint8 of an image array, converted a block of rows at a time: a 16-bit or
    float image needs no more memory than its 8-bit twin (no full-size float temporaries)."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageError(f'an image array must be [H, W], [H, W, 3] or [H, W, 4]; got shape '
                         f'{array.shape}')
    if array.dtype != np.uint8:
        array = _to_uint8(array, what)
    if array.ndim == 2:
        return np.repeat(array[..., None], 3, axis=2)
    if array.shape[2] == 4:
        return _by_rows(array, _over_white, (*array.shape[:2], 3))
    return np.ascontiguousarray(array)


def resize_longer_side(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` scaled (either way) so that its longer side is ``size`` pixels."""
    h, w = image.shape[:2]
    scale = size / max(h, w)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    if new == (w, h):
        return image
    return cv2.resize(image, new, interpolation=cv2.INTER_AREA if scale < 1 else
                      cv2.INTER_LINEAR)


# ----------------------------------------------------------------------------- layers
@dataclass
class ClusterSite:
    """A clustering layer of a model: its module path, stage and block (``None`` for a layer
    between stages)."""
    path: str
    module: nn.Module
    stage: int
    block: Optional[int]

    @property
    def label(self) -> str:
        where = f'block {self.block}' if self.block is not None else self.path.rsplit('.', 1)[-1]
        return f'stage {self.stage} {where}'


def find_cluster_sites(model: nn.Module) -> List[ClusterSite]:
    """Every clustering layer of ``model``, in model order, as its backbone names them
    (``cluster_sites()``: stage, block, layer)."""
    from mmcoc.models.backbones.base import ClusteringBackbone
    paths = {id(module): path for path, module in model.named_modules()}
    sites = [ClusterSite(paths[id(layer)], layer, stage, block)
             for owner in model.modules() if isinstance(owner, ClusteringBackbone)
             for stage, block, layer in owner.cluster_sites()]
    if not sites:
        raise ValueError(f'{type(model).__name__} has no clustering layer (no clustering '
                         'backbone with `cluster_sites()`): cluster maps need a clustering '
                         'backbone such '
                         'as mmcoc.ContextCluster')
    return sites


def select_site(sites: Sequence[ClusterSite], stage: Optional[int] = None,
                block: Optional[int] = None, path: Optional[str] = None) -> ClusterSite:
    """The layer at ``path``, or at ``stage``/``block``; an error lists what there is."""
    for site in sites:
        if (path is not None and site.path == path) or (
                path is None and site.stage == stage and site.block == block):
            return site
    wanted = f'module {path!r}' if path is not None else f'stage {stage} block {block}'
    raise ValueError(f'no clustering layer at {wanted}; this model has: ' +
                     ', '.join(_site_ranges(sites)))


def _site_ranges(sites: Sequence[ClusterSite]) -> List[str]:
    stages: Dict[int, List[int]] = {}
    extra = []
    for site in sites:
        if site.block is None:
            extra.append(f'{site.path} (stage {site.stage})')
        else:
            stages.setdefault(site.stage, []).append(site.block)
    return [f'stage {s}: blocks 0-{max(b)}' for s, b in sorted(stages.items())] + extra


@contextmanager
def record_assignments(sites: Sequence[ClusterSite]) -> Iterator[Dict[str, torch.Tensor]]:
    """Switch the layers' ``keep_assignment`` on for the forward run inside the block; the
    yielded dict then maps each layer's path to its ``[B, heads, H, W]`` assignment."""
    assignments: Dict[str, torch.Tensor] = {}
    previous = [site.module.keep_assignment for site in sites]
    for site in sites:
        site.module.last_assignment = None
        site.module.keep_assignment = True
    try:
        yield assignments
        for site in sites:
            if site.module.last_assignment is not None:
                assignments[site.path] = site.module.last_assignment.detach().cpu()
    finally:
        for site, keep in zip(sites, previous):
            site.module.keep_assignment = keep
            site.module.last_assignment = None  # do not hold the maps beyond this block


# ----------------------------------------------------------------------------- drawing
def palette(n: int) -> np.ndarray:
    """``n`` distinct RGB colours, consecutive ones far apart: golden-ratio hue steps over
    three brightness and two saturation levels."""
    colors = [colorsys.hsv_to_rgb((i * 0.6180339887) % 1.0, (0.95, 0.55)[(i // 3) % 2],
                                  (1.0, 0.8, 0.6)[i % 3]) for i in range(n)]
    return np.rint(np.array(colors, dtype=np.float64).reshape(n, 3) * 255).astype(np.uint8)


def pixel_labels(labels: np.ndarray, extent: Tuple[float, float],
                 size: Tuple[int, int]) -> np.ndarray:
    """The grid's label under each pixel of an ``size = (H, W)`` picture of the image.

    ``extent`` is how many grid cells the image spans (fewer than the grid where the model's
    input was padded at the bottom/right)."""
    height, width = size
    rows = np.minimum(((np.arange(height) + 0.5) * extent[0] / height).astype(np.int64),
                      labels.shape[0] - 1)
    cols = np.minimum(((np.arange(width) + 0.5) * extent[1] / width).astype(np.int64),
                      labels.shape[1] - 1)
    return labels[rows[:, None], cols[None, :]]


def clusters_in_view(labels: np.ndarray, extent: Tuple[float, float]) -> int:
    """How many clusters hold points of the image (not only of the preprocessor's padding)."""
    return len(np.unique(labels[:int(np.ceil(extent[0])), :int(np.ceil(extent[1]))]))


def draw_cluster_map(image: np.ndarray, labels: np.ndarray,
                     extent: Optional[Tuple[float, float]] = None, alpha: float = 0.5,
                     mark_centers: bool = True) -> np.ndarray:
    """``image`` (RGB) with every pixel tinted by its point's cluster.

    ``labels`` ``[h, w]`` holds each point's cluster index (any integers). Clusters get distinct
    colours, blended with opacity ``alpha``; boundaries between clusters are white; each
    cluster's center, its member closest to the members' mean position, is a dot in its colour
    ringed in black.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f'alpha is the overlay opacity and must lie in [0, 1], got {alpha}')
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f'labels must be one [h, w] map, got shape {labels.shape}')
    height, width = image.shape[:2]
    extent = extent or labels.shape
    per_pixel = pixel_labels(labels, extent, (height, width))
    clusters, ranks = np.unique(per_pixel, return_inverse=True)
    ranks = ranks.reshape(height, width)
    colors = palette(len(clusters))
    out = np.rint(image.astype(np.float32) * (1 - alpha) +
                  colors[ranks].astype(np.float32) * alpha).astype(np.uint8)
    edges = np.zeros((height, width), dtype=bool)
    edges[1:] |= ranks[1:] != ranks[:-1]
    edges[:, 1:] |= ranks[:, 1:] != ranks[:, :-1]
    out[edges] = BOUNDARY_RGB
    if mark_centers:
        radius = max(2, round(min(height, width) / 80))
        for rank, (y, x) in enumerate(_cluster_centers(ranks, len(clusters))):
            cv2.circle(out, (int(x), int(y)), radius + 1, (0, 0, 0), -1, cv2.LINE_AA)
            cv2.circle(out, (int(x), int(y)), radius, tuple(int(c) for c in colors[rank]), -1,
                       cv2.LINE_AA)
    return out


def _cluster_centers(ranks: np.ndarray, count: int) -> np.ndarray:
    """``[count, 2]`` (row, col): per cluster, the member pixel nearest the members' mean."""
    rows, cols = np.indices(ranks.shape)
    flat, rows, cols = ranks.ravel(), rows.ravel(), cols.ravel()
    members = np.bincount(flat, minlength=count)
    mean_row = np.bincount(flat, rows, count) / members
    mean_col = np.bincount(flat, cols, count) / members
    distance = (rows - mean_row[flat]) ** 2 + (cols - mean_col[flat]) ** 2
    order = np.lexsort((distance, flat))  # by cluster, nearest first
    first = np.searchsorted(flat[order], np.arange(count))
    return np.stack([rows[order[first]], cols[order[first]]], axis=1)


def add_caption(image: np.ndarray, lines: Sequence[str], scale: float = 0.45) -> np.ndarray:
    """``image`` below a dark strip holding ``lines`` of white text (shrunk to fit its width)."""
    line_height = int(22 * scale / 0.45)
    strip = np.full((line_height * len(lines) + 6, image.shape[1], 3), 32, np.uint8)
    for i, line in enumerate(lines):
        width = cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0]
        fitted = scale * min(1.0, (image.shape[1] - 8) / max(width, 1))  # a long line shrinks
        cv2.putText(strip, line, (4, line_height * (i + 1) - 4), cv2.FONT_HERSHEY_SIMPLEX,
                    fitted, (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([strip, image], axis=0)


def tile_grid(tiles: Sequence[np.ndarray], columns: int, gap: int = 4) -> np.ndarray:
    """Tiles (RGB, any sizes) laid out row by row on a dark background."""
    if not tiles:
        raise ValueError('no tiles to lay out')
    th = max(t.shape[0] for t in tiles)
    tw = max(t.shape[1] for t in tiles)
    rows = -(-len(tiles) // columns)
    grid = np.full((rows * (th + gap) + gap, min(columns, len(tiles)) * (tw + gap) + gap, 3),
                   16, np.uint8)
    for i, tile in enumerate(tiles):
        y, x = gap + (i // columns) * (th + gap), gap + (i % columns) * (tw + gap)
        grid[y:y + tile.shape[0], x:x + tile.shape[1]] = tile
    return grid


def safe_name(text: str) -> str:
    """``text`` as a file-name part (visualizer backends write image names as file names)."""
    return re.sub(r'[^A-Za-z0-9_.-]+', '_', text).strip('_') or 'image'
