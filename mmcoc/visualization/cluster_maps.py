"""A model's cluster assignments on one input, recorded from its real forward pass.

The image goes through the model's own data preprocessor and ``extract_feat``, so the model
sees what it was trained on: the image in the loader's BGR layout, converted to RGB and
normalised by the config's preprocessor.
"""
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.structures import BaseDataElement

from .clusters import ClusterSite, clusters_in_view, draw_cluster_map, record_assignments


@dataclass
class ClusterMaps:
    """One image's cluster assignments: ``image`` (RGB) is what the model saw; for each layer
    path, ``assignments[path]`` is ``[heads, h, w]`` and ``extents[path]`` how many of those
    grid cells the image spans (the rest is the preprocessor's padding)."""
    image: np.ndarray
    assignments: Dict[str, np.ndarray]
    extents: Dict[str, Tuple[float, float]]

    def draw(self, site: ClusterSite, head: int, image: Optional[np.ndarray] = None,
             alpha: float = 0.5) -> Tuple[np.ndarray, int]:
        """One head's clusters drawn over ``image`` (any size; default: what the model saw),
        and how many clusters hold points of the image."""
        if site.path not in self.assignments:
            raise ValueError(f'{site.path} did not run in this forward pass')
        assignment = self.assignments[site.path]
        if not isinstance(head, int) or not 0 <= head < assignment.shape[0]:
            raise ValueError(f'{site.label} ({site.path}) has {assignment.shape[0]} heads: '
                             f'head {head} is not among 0-{assignment.shape[0] - 1}')
        extent = self.extents[site.path]
        picture = draw_cluster_map(self.image if image is None else image, assignment[head],
                                   extent, alpha)
        return picture, clusters_in_view(assignment[head], extent)


def loader_layout(image_rgb: np.ndarray) -> torch.Tensor:
    """``[3, H, W]`` uint8 in the channel order of mmcv's image loading (BGR), which every
    config's data preprocessor expects (it converts to RGB where the model was trained so)."""
    return torch.from_numpy(np.ascontiguousarray(image_rgb[..., ::-1])).permute(2, 0, 1)


@torch.no_grad()
def maps_from_inputs(model: nn.Module, sites: Sequence[ClusterSite], inputs: torch.Tensor,
                     data_sample: Optional[BaseDataElement] = None) -> ClusterMaps:
    """Cluster maps of one loader-layout ``inputs`` (``[3, H, W]`` uint8 BGR, as a dataset's
    pipeline packs it) from a forward of ``model``'s preprocessor and ``extract_feat``."""
    data = dict(inputs=[inputs], data_samples=[data_sample or BaseDataElement()])
    batch = model.data_preprocessor(data, False)['inputs']
    with record_assignments(sites) as recorded:
        model.extract_feat(batch)
    height, width = inputs.shape[1:]
    padded_h, padded_w = batch.shape[2:]
    assignments, extents = {}, {}
    for path, assignment in recorded.items():
        grid_h, grid_w = assignment.shape[2:]
        assignments[path] = assignment[0].numpy()
        extents[path] = (grid_h * height / padded_h, grid_w * width / padded_w)
    image = np.ascontiguousarray(inputs.permute(1, 2, 0).numpy()[..., ::-1])
    return ClusterMaps(image, assignments, extents)
