"""A sampler that draws every cluster equally often (DeepCluster's uniform sampling)."""
import math
from typing import Iterator, Optional, Sized

import numpy as np
import torch
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from ..registry import DATA_SAMPLERS


@DATA_SAMPLERS.register_module()
class ClusterUniformSampler(Sampler):
    """Epochs of ``len(dataset)`` samples in which every non-empty cluster appears equally
    often (up to one), whatever the cluster sizes: without it, training on k-means
    pseudo-labels drifts into a few huge clusters (Caron et al., 2018, Sec. 3.3).

    Each non-empty cluster gets ``N / clusters`` slots (rounded up for some, down for others,
    at random) filled by cycling through its members in a fresh random order (so small
    clusters repeat members, large ones show a random subset); the slots are shuffled.
    Before the first
    :meth:`set_labels` it is a plain shuffle. Empty clusters are skipped. Under DDP every rank
    builds the same epoch from ``seed + epoch`` and takes every ``world_size``-th index (as
    mmengine's ``DefaultSampler``), so the labels must be the same on every rank, as
    ``mmcoc.DeepClusterHook`` makes them.

    Args:
        dataset (Sized): the training set.
        seed (int, optional): same on every rank; default a seed synchronised across ranks.
    """

    def __init__(self, dataset: Sized, seed: Optional[int] = None):
        self.rank, self.world_size = get_dist_info()
        self.dataset = dataset
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0
        self.num_samples = math.ceil(len(dataset) / self.world_size)
        self.total_size = self.num_samples * self.world_size
        self.labels: Optional[np.ndarray] = None

    def set_labels(self, labels) -> None:
        labels = np.asarray(labels, dtype=np.int64)
        if labels.shape != (len(self.dataset), ):
            raise ValueError(f'need one cluster label per sample of the dataset '
                             f'({len(self.dataset)}), got an array of shape {labels.shape}')
        if labels.min() < 0:
            raise ValueError('cluster labels must be non-negative')
        self.labels = labels

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def epoch_indices(self) -> np.ndarray:
        """The whole epoch's dataset indices, before the split across ranks."""
        num = len(self.dataset)
        rng = np.random.default_rng(self.seed + self.epoch)
        if self.labels is None:
            return rng.permutation(num)
        order = np.argsort(self.labels, kind='stable')
        sizes = np.bincount(self.labels)
        members = np.split(order, np.cumsum(sizes)[:-1])
        members = [m for m in members if len(m)]
        per_cluster = math.ceil(num / len(members))
        # The surplus of the rounding up is taken one slot each from randomly chosen clusters.
        counts = np.full(len(members), per_cluster)
        counts[rng.choice(len(members), per_cluster * len(members) - num, replace=False)] -= 1
        slots = []
        for cluster, count in zip(members, counts):
            repeats = math.ceil(count / len(cluster))
            cycled = np.concatenate([rng.permutation(cluster) for _ in range(repeats)])
            slots.append(cycled[:count])
        return rng.permutation(np.concatenate(slots))

    def __iter__(self) -> Iterator[int]:
        indices = self.epoch_indices()
        indices = np.resize(indices, self.total_size)  # pad by repeating, as DefaultSampler
        return iter(torch.from_numpy(indices[self.rank::self.world_size]).tolist())

    def __len__(self) -> int:
        return self.num_samples
