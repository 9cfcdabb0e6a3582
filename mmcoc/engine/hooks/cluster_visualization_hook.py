"""Watch clustering emerge during training: cluster maps of fixed validation images, drawn every
``interval`` iterations and handed to the runner's visualizer backends."""
from typing import Optional, Sequence

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmcoc.registry import HOOKS
from mmcoc.visualization import (
    add_caption,
    find_cluster_sites,
    maps_from_inputs,
    resize_longer_side,
    tile_grid,
)

from ..strategies import full_weights, is_sharded


@HOOKS.register_module()
class ClusterVisualizationHook(Hook):
    """Every ``interval`` training iterations (and before the first), draw the cluster maps of
    the first ``num_images`` validation images, as the validation pipeline prepares them, and
    give one labelled grid per image (a row per stage, a column per chosen block and head) to
    ``runner.visualizer.add_image``: LocalVisBackend writes it to
    ``vis_data/vis_image/clusters_<image>_<iterations done>.png``, TensorBoardVisBackend logs it.

    Works with any model whose backbone has clustering layers (``keep_assignment``): mmpretrain
    classifiers, mmdet detectors, mmseg segmentors. One forward per image, without gradients,
    on the main process only (under FSDP on every rank, the main one drawing).

    Args:
        interval: draw every this many training iterations.
        num_images: how many validation images (the first ones) to follow.
        blocks: block indices drawn in every stage (layers between stages are left out).
        heads: head indices drawn for every block.
        alpha: overlay opacity.
        display: longer side of each drawn map, in pixels.
    """
    priority = 'LOW'

    def __init__(self, interval: int = 100, num_images: int = 2, blocks: Sequence[int] = (0, ),
                 heads: Sequence[int] = (0, ), alpha: float = 0.5, display: int = 192):
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'interval must be a positive number of iterations, got {interval!r}')
        if not isinstance(num_images, int) or num_images < 1:
            raise ValueError(f'num_images must be a positive int, got {num_images!r}')
        self.interval, self.num_images = interval, num_images
        self.blocks, self.heads = tuple(blocks), tuple(heads)
        self.alpha, self.display = alpha, display
        self._items: Optional[list] = None

    def before_train(self, runner):
        self._draw(runner, runner.iter)  # the initial clusters, to compare later ones against

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if self.every_n_train_iters(runner, self.interval):
            # runner.iter counts this iteration only after its hooks have run
            self._draw(runner, runner.iter + 1)

    def _validation_items(self, runner) -> list:
        if self._items is None:
            loop = runner.val_loop  # None where the config has no validation
            if loop is None:
                raise RuntimeError('ClusterVisualizationHook draws validation images, but the '
                                   'config has no val_dataloader/val_cfg; add them')
            dataset = loop.dataloader.dataset
            self._items = [dataset[i] for i in range(min(self.num_images, len(dataset)))]
        return self._items

    def _draw(self, runner, step: int):
        main = is_main_process()
        sharded = is_sharded(runner.model)
        if not (main or sharded):
            return
        # under FSDP every rank runs the same forwards (gathering weights is a collective, also
        # inside nested FSDP units) and the main process draws
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        sites = [site for site in find_cluster_sites(model) if site.block in self.blocks]
        was_training = model.training
        model.eval()
        try:
            with full_weights(runner.model):
                for index, item in enumerate(self._validation_items(runner)):
                    samples = item['data_samples']
                    maps = maps_from_inputs(model, sites, item['inputs'],
                                            samples[0] if isinstance(samples, list) else samples)
                    if main:
                        runner.visualizer.add_image(f'clusters_{index}',
                                                    self._grid(maps, sites, step), step=step)
        finally:
            model.train(was_training)

    def _grid(self, maps, sites, step: int):
        image = resize_longer_side(maps.image, self.display)
        tiles = []
        for site in sites:
            heads = maps.assignments[site.path].shape[0]
            for head in (h for h in self.heads if h < heads):
                tile, count = maps.draw(site, head, image, self.alpha)
                tiles.append(add_caption(tile, [f'{site.label} head {head}: {count}']))
        return add_caption(tile_grid(tiles, columns=len(self.heads) * len(self.blocks)),
                           [f'after {step} iterations'])
