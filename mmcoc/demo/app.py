"""A web page to look at the clusters of a model: upload an image, pick a config and weights,
a stage, block and head, and see every point's cluster over the image, with the model's own
prediction (top classes of a classifier, drawn detections or segments).

    python -m mmcoc.demo [--checkpoints checkpoints] [--host 127.0.0.1] [--port 7860]

Needs the ``demo`` extra (``pip install 'mmcoc[demo]'``, or ``.[demo]`` in a clone: Gradio).
Checkpoints are the files found under ``--checkpoints``, plus random weights; configs are mmcoc's
own (the checkout's ``configs/``, or those a wheel installs) or those under ``--configs``.
A loaded model is kept for the next requests (the two last used).
"""
import argparse
import glob
import os
import os.path as osp
import re
import threading
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import numpy as np

from mmcoc.apis import LoadedModel, check_image, cluster_maps, load_model, predict
from mmcoc.utils import cli
from mmcoc.utils.paths import project_file
from mmcoc.visualization import ImageError, add_caption, read_image, resize_longer_side, select_site

CONFIGS = project_file('configs')  # the checkout's, or those packaged in the wheel
RANDOM = 'random init'
CHECKPOINT_SUFFIXES = ('.pth', '.pth.tar', '.pt', '.ckpt')
MAX_UPLOAD = '25mb'
DISPLAY = 640  # longer side of the drawn overlay


def find_configs(root: str) -> List[str]:
    """Model configs under ``root`` (``_base_`` fragments left out) that can serve the page,
    demos first."""
    found = [p for p in glob.glob(osp.join(root, '**', '*.py'), recursive=True)
             if '_base_' not in p.split(os.sep) and servable(p)]
    return sorted(found, key=lambda p: ('demo' not in p.split(os.sep), p))


def servable(config: str) -> bool:
    """Whether the page can show ``config``: a classification, detection or segmentation model
    with a test pipeline (the DeepCluster pre-training configs have none)."""
    from mmcoc.apis.inference import TASKS
    from mmcoc.utils.config import load_config
    try:
        cfg = load_config(config)
    except Exception:  # a config that does not even load is not offered
        return False
    return cfg.get('default_scope') in TASKS and bool(cfg.get('test_dataloader'))


def names(paths: List[str], root: str) -> Dict[str, str]:
    """What the page shows for each file (relative to its folder, never a server path) ->
    the file."""
    return {osp.relpath(p, root) if osp.abspath(p).startswith(osp.abspath(root) + os.sep)
            else osp.basename(p): p for p in paths}


_PATH = re.compile(r"(?:[A-Za-z]:)?[/\\][^\s'\"(),:;]+[/\\][^\s'\"(),:;]+")


def one_line(err: BaseException) -> str:
    """A failure as one line for the page: its first line, every file path reduced to the
    file's name (the page never shows server paths: temp files, folders)."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    text = _PATH.sub(lambda m: osp.basename(m.group(0).rstrip('/\\.')) or '...', text)
    return text if len(text) <= 400 else text[:397] + '...'


def find_checkpoints(folder: str) -> List[str]:
    if not osp.isdir(folder):
        return []
    return sorted(p for p in glob.glob(osp.join(folder, '**', '*'), recursive=True)
                  if p.endswith(CHECKPOINT_SUFFIXES) and osp.isfile(p))


class ModelCache:
    """Loaded models by (config, checkpoint, its modification time), the last ``size`` used."""

    def __init__(self, size: int = 2, configs: Optional[Dict[str, str]] = None,
                 checkpoints: Optional[Dict[str, str]] = None, trust: bool = False):
        self.size, self.models, self.lock = size, OrderedDict(), threading.Lock()
        self.trust = trust  # unpickle the offered checkpoints in full (--trust-checkpoint)
        self.loads = 0  # how many times a model was built (the tests check reuse)
        # the page's names -> the files: the page sends names only, so it never sees a
        # server path and cannot ask for a file that is not offered
        self.configs, self.checkpoints = dict(configs or {}), dict(checkpoints or {})

    def resolve(self, config: str, checkpoint: str) -> Tuple[str, Optional[str]]:
        """The files behind the page's names (a cache built without names, as in scripts,
        takes paths)."""
        if self.configs and config not in self.configs or \
                checkpoint != RANDOM and self.checkpoints and checkpoint not in self.checkpoints:
            raise ValueError('choose a config and a checkpoint from the lists')
        config = self.configs.get(config, config)
        return config, None if checkpoint == RANDOM else self.checkpoints.get(checkpoint,
                                                                              checkpoint)

    def get(self, config: str, checkpoint: Optional[str]) -> LoadedModel:
        key = (config, checkpoint, osp.getmtime(checkpoint) if checkpoint else None)
        with self.lock:
            if key not in self.models:
                self.models[key] = load_model(config, checkpoint, trust=self.trust)
                self.loads += 1
                while len(self.models) > self.size:
                    self.models.popitem(last=False)
            self.models.move_to_end(key)
            return self.models[key]


def show_clusters(cache: ModelCache, upload, config: str, checkpoint: str, stage, block, head,
                  alpha: float, size) -> Tuple[Optional[np.ndarray], Optional[dict],
                                               Optional[np.ndarray], str]:
    """The page's one action: (overlay, top classes, prediction drawing, message)."""
    path = upload if isinstance(upload, (str, type(None))) else getattr(upload, 'name', None)
    if not path:
        return None, None, None, 'Upload an image first.'
    try:
        image = read_image(path)
        check_image(image)
    except ImageError as err:
        return None, None, None, f'**This file cannot be used:** {one_line(err)}'
    try:
        loaded = cache.get(*cache.resolve(config, checkpoint))
    except Exception as err:  # noqa: BLE001  (whatever it is, the page says it in one line)
        return None, None, None, f'**Cannot load this model:** {one_line(err)}'
    try:
        stage, block, head, size = (int(v) for v in (stage, block, head, size))
        maps = cluster_maps(loaded, image, size)
        site = select_site(loaded.sites, stage, block)
        overlay, clusters = maps.draw(site, head, resize_longer_side(image, DISPLAY), alpha)
    except Exception as err:  # noqa: BLE001
        return None, None, None, f'**Cannot draw this:** {one_line(err)}'
    overlay = add_caption(overlay, [f'{site.label} head {head}: {clusters} clusters | '
                                    f'{loaded.weights}'])
    try:
        prediction = predict(loaded, image)
    except Exception as err:  # noqa: BLE001  (the clusters are still worth showing)
        return overlay, None, None, f'**No prediction:** {one_line(err)}'
    message = (f'{config}, {loaded.weights}; {site.label} head {head} '
               f'(`{site.path}`): {clusters} clusters on a {maps.image.shape[1]}x'
               f'{maps.image.shape[0]} model input.')
    return overlay, prediction.scores, prediction.drawing, message


def build_app(configs: List[str], checkpoints: List[str], cache: Optional[ModelCache] = None,
              config_root: str = CONFIGS, checkpoint_root: str = '.'):
    import gradio as gr
    cache = cache or ModelCache()
    cache.configs.update(names(configs, config_root))
    cache.checkpoints.update(names(checkpoints, checkpoint_root))
    configs, checkpoints = list(names(configs, config_root)), list(names(checkpoints,
                                                                         checkpoint_root))
    with gr.Blocks(title='mmcoc clusters') as app:
        gr.Markdown('## Context clusters\nUpload an image and see which center every point '
                    'joined in the chosen stage, block and head (from the model\'s forward '
                    'pass); white lines are cluster boundaries, dots the cluster centers.')
        with gr.Row():
            with gr.Column():
                upload = gr.File(label='Image', type='filepath', elem_id='upload')
                config = gr.Dropdown(configs, value=configs[0] if configs else None,
                                     label='Config', elem_id='config')
                checkpoint = gr.Dropdown([RANDOM] + checkpoints, value=RANDOM,
                                         label='Checkpoint', elem_id='checkpoint')
                with gr.Row():
                    stage = gr.Number(0, precision=0, minimum=0, label='Stage')
                    block = gr.Number(0, precision=0, minimum=0, label='Block')
                    head = gr.Number(0, precision=0, minimum=0, label='Head')
                alpha = gr.Slider(0.0, 1.0, value=0.5, step=0.05, label='Overlay opacity')
                size = gr.Slider(64, 1024, value=224, step=32,
                                 label='Model input (longer side, px)')
                run = gr.Button('Show clusters', variant='primary', elem_id='run')
            with gr.Column():
                overlay = gr.Image(label='Clusters', type='numpy', format='png',
                                   interactive=False, elem_id='overlay')
                message = gr.Markdown(elem_id='message')
                classes = gr.Label(label='Top classes', num_top_classes=5, elem_id='classes')
                drawing = gr.Image(label='Prediction', type='numpy', interactive=False,
                                   elem_id='prediction')
        run.click(lambda *args: show_clusters(cache, *args),
                  [upload, config, checkpoint, stage, block, head, alpha, size],
                  [overlay, classes, drawing, message])
    return app


def main(argv=None):
    parser = argparse.ArgumentParser(description='Context-cluster maps in the browser')
    parser.add_argument('--checkpoints', default='checkpoints', help='folder of weight files')
    parser.add_argument('--configs', default=CONFIGS, help='folder of configs')
    parser.add_argument('--config', action='append', type=cli.config_file,
                        help='offer only these configs')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=cli.int_range(0, 65535), default=7860,
                        help='TCP port (0: any free one)')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='unpickle the offered checkpoints in full (it can run code): only '
                        'for a folder of files you trust; mmcoc checkpoints never need it')
    args = parser.parse_args(argv)
    for option, folder in (('--checkpoints', args.checkpoints), ('--configs', args.configs)):
        if osp.exists(folder) and not osp.isdir(folder):
            parser.error(f'{option} {folder!r} is a file: give a folder')
    if args.config is None and not osp.isdir(args.configs):
        parser.error(f'--configs {args.configs!r} does not exist: give the folder of the '
                     'configs (default: mmcoc\'s own configs) or --config FILE')
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')  # no calls home
    try:
        import gradio as gr
    except ImportError:
        raise SystemExit("the web demo needs Gradio: pip install 'mmcoc[demo]' "
                         '(in a clone: pip install -e .[demo])') from None
    configs = args.config or find_configs(args.configs)
    app = build_app(configs, find_checkpoints(args.checkpoints),
                    cache=ModelCache(trust=args.trust_checkpoint), config_root=args.configs,
                    checkpoint_root=args.checkpoints)
    # system fonts: the page fetches nothing from the internet
    theme = gr.themes.Default(font=['sans-serif'], font_mono=['monospace'])
    app.launch(server_name=args.host, server_port=args.port, max_file_size=MAX_UPLOAD,
               theme=theme, show_error=True)


if __name__ == '__main__':
    main()
