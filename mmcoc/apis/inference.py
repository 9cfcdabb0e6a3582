"""A config's model loaded for inspection: its cluster maps on an image and its predictions.

Models are built and weights loaded by each task's own API (``mmpretrain.get_model``,
``mmdet.apis.init_detector``, ``mmseg.apis.init_model``: they read the class names from the
checkpoint), in the config's own registry scope; predictions use their inference APIs and
visualizers. The cluster maps are recorded by ``mmcoc.visualization.maps_from_inputs``.
"""
import logging
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import DefaultScope

from mmcoc.utils.checkpoint import WEIGHT_KEYS, load_checkpoint_file, unwrap_state_dict
from mmcoc.utils.config import adapt_to_machine, load_config
from mmcoc.utils.inputs import check_finite_images
from mmcoc.utils.weights_fit import check_fit, checked_load, load_weights
from mmcoc.visualization import (
    ClusterMaps,
    ClusterSite,
    ImageError,
    find_cluster_sites,
    loader_layout,
    maps_from_inputs,
    read_image,
    resize_longer_side,
)

TASKS = {'mmpretrain': 'classification', 'mmdet': 'detection', 'mmseg': 'segmentation'}
RANDOM_INIT = 'random init (no checkpoint)'
# Longest side over shortest side beyond which no test pipeline of the project leaves the
# shorter side enough pixels for the backbone's 4x4 stem (OpenCV asserts inside mmcv on a
# side rounded to 0 px): such a strip is refused with the reason instead.
MAX_ASPECT = 32


def check_image(image_rgb: np.ndarray) -> None:
    """Refuse an image the models cannot see: a strip more than ``MAX_ASPECT`` times longer
    than wide (a 1x4000 scan line), or one holding NaN or Inf values."""
    check_finite_images(torch.as_tensor(image_rgb), 'the image')
    h, w = image_rgb.shape[:2]
    if max(h, w) > MAX_ASPECT * min(h, w):
        raise ImageError(
            f'the image is {w}x{h} pixels: one side is more than {MAX_ASPECT} times the other, '
            'so resized for the model its shorter side would shrink to (almost) nothing. Crop '
            'it into less elongated pieces, or pad it towards a square.')


@dataclass
class LoadedModel:
    """A model in eval mode with what the tools need to know about it."""
    model: nn.Module
    task: str
    config: str
    checkpoint: Optional[str]
    weights: str  # what the weights are, for captions
    classes: Tuple[str, ...]
    sites: List[ClusterSite]
    cache: Dict[str, object] = field(default_factory=dict, repr=False)


def _holds_whole_model(checkpoint: Dict) -> bool:
    return any(k.startswith('backbone.') for k in unwrap_state_dict(checkpoint, WEIGHT_KEYS))


def _recorded_dataset_meta(checkpoint: Dict) -> Dict:
    # as the tasks' APIs read it: meta['dataset_meta'] (lower-case keys), or the older CLASSES
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    if isinstance(meta.get('dataset_meta'), dict):
        return {k.lower(): v for k, v in meta['dataset_meta'].items()}
    return {'classes': meta['CLASSES']} if 'CLASSES' in meta else {}


def _config_classes(cfg) -> Tuple[str, ...]:
    dataset = cfg.get('test_dataloader', {}).get('dataset', {})
    metainfo = dataset.get('metainfo') or {}
    classes = metainfo.get('classes') or dataset.get('classes')
    if not classes and isinstance(dataset.get('type'), str):
        # The published configs name a dataset class (ADE20KDataset, CocoDataset) that holds
        # the classes: without them mmseg's visualizer stops with "class information is not
        # provided" on a model at random init.
        import importlib
        scope = cfg.get('default_scope')
        registry = importlib.import_module(f'{scope}.registry').DATASETS if scope in TASKS \
            else None
        try:
            dataset_class = registry.get(dataset['type']) if registry is not None else None
        except KeyError:
            dataset_class = None
        classes = (getattr(dataset_class, 'METAINFO', None) or {}).get('classes')
    return tuple(classes or ())


def load_model(config: str, checkpoint: Optional[str] = None, trust: bool = False,
               cluster_sites: bool = True) -> LoadedModel:
    """Build ``config``'s model on the CPU with ``checkpoint`` loaded, or random weights.

    The model is built by its task's API at random init; the checkpoint is read once, by the
    project's weights-only reader (``trust``: unpickle it in full, the tools'
    ``--trust-checkpoint``), and loaded under the project's fit policy. A whole-model
    checkpoint (mmcoc training, converted releases: ``backbone.*`` keys) must fit every part
    of the model; a backbone-only one (the official releases) loads through the backbone's
    own checkpoint filter, leaving the rest of the model random (said in ``weights``).
    ``cluster_sites``: find the image clustering layers (a point-cloud model has none).
    """
    cfg = adapt_to_machine(load_config(config))
    scope = cfg.get('default_scope')
    if scope not in TASKS:
        raise ValueError(f'{config}: default_scope {scope!r} is none of {sorted(TASKS)}; '
                         'cluster maps need a classification, detection or segmentation config')
    state = load_checkpoint_file(checkpoint, trust=trust) if checkpoint is not None else None
    if scope == 'mmpretrain':
        from mmpretrain.apis import get_model
        model = get_model(cfg, pretrained=False, device='cpu')
    elif scope == 'mmdet':
        from mmdet.apis import init_detector
        model = init_detector(cfg, None, device='cpu')
    else:
        from mmseg.apis import init_model
        model = init_model(cfg, None, device='cpu')
    model = revert_sync_batchnorm(model)  # SyncBN needs CUDA and a process group
    whole = state is not None and _holds_whole_model(state)
    classes: Tuple[str, ...] = ()
    if state is None:
        weights = RANDOM_INIT
    elif whole:
        check_fit(checkpoint, state, model, config=cfg.model)
        with checked_load():
            model.load_state_dict(unwrap_state_dict(state, WEIGHT_KEYS), strict=False)
        meta = _recorded_dataset_meta(state)
        if meta:
            model.dataset_meta = {**(getattr(model, 'dataset_meta', None) or {}), **meta}
            if scope == 'mmpretrain':
                model._dataset_meta = model.dataset_meta  # what its inferencers read
            classes = tuple(meta.get('classes') or ())
        weights = f'weights: {os.path.basename(checkpoint)}'
    else:
        backbone = getattr(model, 'backbone', None)
        if not hasattr(backbone, 'checkpoint_filter'):
            raise ValueError(
                f'checkpoint {checkpoint!r} holds no whole model (no key starts with '
                f"'backbone.'), and the {type(backbone).__name__} backbone of {config} takes "
                "no backbone-only weights: give a checkpoint of this config's whole model")
        init_cfg = dict(type='Pretrained', checkpoint=checkpoint)
        with checked_load():
            load_weights(backbone, checkpoint, backbone.checkpoint_filter(init_cfg),
                         loaded=state)
        weights = f'backbone weights: {os.path.basename(checkpoint)} (heads random)'
    # Without a whole-model checkpoint the APIs fall back to another dataset's classes
    # (mmdet: COCO's 80); the config's own are the ones the heads were built for.
    classes = classes or _config_classes(cfg)
    model.eval()
    return LoadedModel(model, TASKS[scope], config, checkpoint, weights, classes,
                       find_cluster_sites(model) if cluster_sites else [])


ImageInput = Union[str, os.PathLike, np.ndarray]


def _rgb(image: ImageInput) -> np.ndarray:
    """An RGB ``[H, W, 3]`` array as given, or read from a file (``read_image``: an
    ``ImageError`` names a file that is not a usable image)."""
    return image if isinstance(image, np.ndarray) else read_image(image)


def cluster_maps(loaded: LoadedModel, image: ImageInput, size: int = 224) -> ClusterMaps:
    """Cluster maps of an RGB image (an array or a file), resized so that its longer side is
    ``size`` pixels."""
    image_rgb = _rgb(image)
    check_image(image_rgb)
    return maps_from_inputs(loaded.model, loaded.sites,
                            loader_layout(resize_longer_side(image_rgb, size)))


@dataclass
class Prediction:
    scores: Optional[Dict[str, float]] = None  # classification: top classes -> probability
    drawing: Optional[np.ndarray] = None  # detection/segmentation: predictions drawn (RGB)


def predict(loaded: LoadedModel, image: ImageInput, topk: int = 5,
            score_threshold: float = 0.3) -> Prediction:
    """The model's prediction on an RGB image (an array or a file), through its task's
    inference API."""
    image_rgb = _rgb(image)
    check_image(image_rgb)
    # The APIs build their pipelines in the current default scope, which the last model loaded
    # (init_detector, init_model: any task) set process-wide: use this model's own.
    scope = next(name for name, task in TASKS.items() if task == loaded.task)
    with DefaultScope.overwrite_default_scope(scope):
        return _predict(loaded, image_rgb, topk, score_threshold)


def predict_folder(loaded: LoadedModel, folder: Union[str, os.PathLike], topk: int = 5,
                   score_threshold: float = 0.3) -> Dict[str, Union[Prediction, ImageError]]:
    """``predict`` on every file of ``folder`` (sorted, not recursive, hidden files left out):
    path -> its ``Prediction``, or the ``ImageError`` that says why a file is not a usable image.
    A bad file is named in a warning and the run goes on; the log says how far it is."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise NotADirectoryError(f'{folder!r} is not a folder: give a folder of images, or '
                                 'call predict() on one image')
    files = sorted(os.path.join(folder, name) for name in os.listdir(folder)
                   if not name.startswith('.') and os.path.isfile(os.path.join(folder, name)))
    results: Dict[str, Union[Prediction, ImageError]] = {}
    step = max(1, len(files) // 10)
    for index, path in enumerate(files, 1):
        try:
            results[path] = predict(loaded, path, topk, score_threshold)
        except ImageError as err:
            print_log(f'skipped {path}: {err}', logger='current', level=logging.WARNING)
            results[path] = err
        if index % step == 0 or index == len(files):
            print_log(f'predicted {index}/{len(files)} files of {folder}', logger='current')
    bad = sum(isinstance(r, ImageError) for r in results.values())
    if bad:
        print_log(f'{bad} of {len(files)} files of {folder} were not usable images (named '
                  'above)', logger='current', level=logging.WARNING)
    return results


def _predict(loaded: LoadedModel, image_rgb: np.ndarray, topk: int,
             score_threshold: float) -> Prediction:
    bgr = np.ascontiguousarray(image_rgb[..., ::-1])
    names = loaded.classes
    if loaded.task == 'classification':
        from mmpretrain.apis import ImageClassificationInferencer
        inferencer = loaded.cache.get('inferencer')
        if inferencer is None:
            inferencer = loaded.cache['inferencer'] = ImageClassificationInferencer(
                loaded.model, device='cpu')
        scores = np.asarray(inferencer(bgr)[0]['pred_scores'], dtype=np.float64)
        top = np.argsort(-scores)[:topk]
        return Prediction(scores={(names[i] if i < len(names) else f'class {i}'): float(scores[i])
                                  for i in top})
    if loaded.task == 'detection':
        from mmdet.apis import inference_detector
        from mmdet.visualization import DetLocalVisualizer as Visualizer
        result = inference_detector(loaded.model, bgr)
    else:
        from mmseg.apis import inference_model
        from mmseg.visualization import SegLocalVisualizer as Visualizer
        result = inference_model(loaded.model, bgr)
    visualizer = loaded.cache.get('visualizer')
    if visualizer is None:
        visualizer = loaded.cache['visualizer'] = Visualizer.get_instance(
            f'mmcoc_predictions_{id(loaded.model)}')
        meta = dict(getattr(loaded.model, 'dataset_meta', None) or {})
        meta['classes'] = names or meta.get('classes')
        if loaded.task == 'segmentation' and len(meta.get('palette') or ()) != len(names):
            meta['palette'] = [tuple(int(c) for c in rgb) for rgb in
                               np.random.default_rng(0).integers(0, 255, (len(names), 3))]
        visualizer.dataset_meta = meta
    kwargs = dict(pred_score_thr=score_threshold) if loaded.task == 'detection' else {}
    visualizer.add_datasample('prediction', image_rgb, result, draw_gt=False, show=False,
                              **kwargs)
    return Prediction(drawing=visualizer.get_image())
