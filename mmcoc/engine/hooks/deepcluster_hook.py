"""DeepCluster's re-clustering, once per epoch, as an mmengine hook."""
import copy
from typing import List, Optional

import numpy as np
import torch
from mmengine.dist import broadcast, gather, get_comm_device, get_dist_info
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapperDict

from ...datasets.samplers import ClusterUniformSampler
from ...registry import HOOKS
from ..strategies import is_sharded
from .kmeans import cluster_features, resolve_backend

# Rows gathered per collective call: bounds the buffers on the communication device (a GPU
# under nccl) to about 64k feature rows per rank, whatever the dataset size.
GATHER_CHUNK = 65536
CHECKPOINT_KEY = 'deepcluster'


@HOOKS.register_module()
class DeepClusterHook(Hook):
    """At the start of every ``interval``-th epoch: extract the pooled features of the whole
    training set without random augmentation, PCA-whiten them to ``pca_dim``, L2-normalise,
    k-means them into k clusters (k = the head's ``num_classes``), re-seed empty clusters,
    give the assignment to ``mmcoc.DeepCluster`` as pseudo-labels, re-initialise its head
    (and drop the head's optimizer state, whose momentum belongs to the old classes) and
    hand the assignment to the ``mmcoc.ClusterUniformSampler`` of the training loader.

    Under DDP each rank extracts its share, rank 0 gathers all features and runs k-means
    alone, and the labels are broadcast, so every rank trains on the same assignment.

    Logged every time (and written to the visualizer's scalars): the NMI between this and
    the previous assignment (stability) and, when the dataset has labels, the NMI against
    them; the k-means loss; the number of re-seeded clusters. The assignment is saved in
    every checkpoint and restored on resume.

    Args:
        pipeline (list[dict]): the deterministic transforms of the feature extraction, e.g.
            load, resize, center crop, pack (the training pipeline's random crops and flips
            would make the features noisy).
        pca_dim (int): dimensions kept by PCA whitening (256 in the paper).
        kmeans_iters (int): Lloyd iterations (20 in the reference).
        backend (str): ``'auto'`` (faiss if installed, else scikit-learn), ``'faiss'``,
            ``'sklearn'``.
        interval (int): re-cluster every this many epochs.
        batch_size (int, optional): batch size of the extraction; default the training one.
        seed (int, optional): k-means seed of epoch 0, incremented each epoch (the reference
            draws a new seed per clustering); default the runner's seed.
        uniform_sampling (bool): require and feed a ``ClusterUniformSampler`` (the paper's
            setting); ``False`` leaves the training sampler alone.
    """

    priority = 'NORMAL'

    def __init__(self,
                 pipeline: List[dict],
                 pca_dim: int = 256,
                 kmeans_iters: int = 20,
                 backend: str = 'auto',
                 interval: int = 1,
                 batch_size: Optional[int] = None,
                 seed: Optional[int] = None,
                 uniform_sampling: bool = True):
        if not pipeline:
            raise ValueError('DeepClusterHook needs the pipeline of its feature extraction '
                             '(deterministic: load, resize, center crop, pack)')
        if interval < 1 or pca_dim < 1 or kmeans_iters < 1:
            raise ValueError('interval, pca_dim and kmeans_iters must be positive, got '
                             f'{interval}, {pca_dim}, {kmeans_iters}')
        self.pipeline = pipeline
        self.pca_dim = pca_dim
        self.kmeans_iters = kmeans_iters
        self.backend = resolve_backend(backend)
        self.interval = interval
        self.batch_size = batch_size
        self.seed = seed
        self.uniform_sampling = uniform_sampling
        self.loader = None
        self.true_labels = None
        self.previous_labels = None

    # ------------------------------------------------------------------ set-up
    @staticmethod
    def unwrap(runner):
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def before_train(self, runner) -> None:
        if is_sharded(runner.model):
            raise RuntimeError(
                'DeepClusterHook re-initialises the classifier head every epoch, which FSDP\'s '
                "flat shards do not allow: train DeepCluster with strategy=dict(type='DDPStrategy')"
                " or runner_type='mmcoc.RecoverableRunner'")
        model = self.unwrap(runner)
        for method in ('set_pseudo_labels', 'reset_head', 'extract_feat'):
            if not hasattr(model, method):
                raise TypeError(f'DeepClusterHook trains a DeepCluster model (type='
                                f"'mmcoc.DeepCluster'), got {type(model).__name__}")
        train_set = runner.train_dataloader.dataset
        sampler = runner.train_dataloader.sampler
        if self.uniform_sampling and not isinstance(sampler, ClusterUniformSampler):
            raise TypeError(
                f'DeepClusterHook(uniform_sampling=True) needs the training sampler '
                f"train_dataloader.sampler=dict(type='mmcoc.ClusterUniformSampler'), got "
                f'{type(sampler).__name__}')
        cfg = copy.deepcopy(runner.cfg.train_dataloader)
        if 'pipeline' not in cfg.get('dataset', {}):
            raise ValueError('DeepClusterHook swaps the pipeline of train_dataloader.dataset '
                             'for its own; the training dataset config has no pipeline key '
                             '(a dataset wrapper?): give the dataset its pipeline directly')
        cfg.dataset.pipeline = self.pipeline
        cfg.sampler = dict(type='DefaultSampler', shuffle=False, round_up=True)
        cfg.pop('batch_sampler', None)
        cfg.persistent_workers = False  # used once per epoch: no idle workers in between
        if self.batch_size is not None:
            cfg.batch_size = self.batch_size
        self.loader = runner.build_dataloader(cfg, seed=runner.seed)
        if len(self.loader.dataset) != len(train_set):
            raise ValueError(f'the extraction set has {len(self.loader.dataset)} samples, the '
                             f'training set {len(train_set)}: they must be the same set')
        if get_dist_info()[0] == 0 and hasattr(train_set, 'get_gt_labels'):
            try:
                self.true_labels = np.asarray(train_set.get_gt_labels())
            except KeyError:  # an unlabelled set: no NMI against true labels
                self.true_labels = None

    def before_train_epoch(self, runner) -> None:
        if runner.epoch % self.interval == 0 or self.unwrap(runner).pseudo_labels is None:
            self.recluster(runner)

    # ------------------------------------------------------------------ resuming
    # The assignment is saved with every checkpoint, so a run resumed between two
    # re-clusterings (interval > 1) trains on the labels it had, not on a new clustering.
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        labels = self.unwrap(runner).pseudo_labels
        if labels is not None:
            checkpoint[CHECKPOINT_KEY] = dict(pseudo_labels=labels.clone())

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get(CHECKPOINT_KEY)
        if state is None:
            return
        labels = state['pseudo_labels']
        model = self.unwrap(runner)
        model.set_pseudo_labels(labels)
        self.previous_labels = labels.numpy()
        sampler = runner.train_dataloader.sampler
        if self.uniform_sampling and isinstance(sampler, ClusterUniformSampler):
            sampler.set_labels(labels.numpy())  # (another sampler: before_train says so)

    # ------------------------------------------------------------------ the re-clustering
    @torch.no_grad()
    def extract(self, model):
        """This rank's share of the pooled features and their dataset indices."""
        was_training = model.training
        model.eval()
        features, indices = [], []
        for data in self.loader:
            data = model.data_preprocessor(data, False)
            feats = model.extract_feat(data['inputs'])
            feats = feats[-1] if isinstance(feats, (tuple, list)) else feats
            features.append(feats.flatten(1).float().cpu())
            indices.extend(sample.sample_idx for sample in data['data_samples'])
        model.train(was_training)
        return torch.cat(features), torch.tensor(indices, dtype=torch.long)

    @staticmethod
    def gather_features(features, indices, num_samples):
        """All ranks' features on rank 0, in dataset order (None on other ranks)."""
        rank, world_size = get_dist_info()
        full = np.empty((num_samples, features.shape[1]), dtype=np.float32)
        seen = np.zeros(num_samples, dtype=bool)
        if world_size == 1:
            full[indices.numpy()] = features.numpy()
            seen[indices.numpy()] = True
        else:
            device = get_comm_device()
            # Each rank holds the same number of rows (DefaultSampler with round_up).
            for start in range(0, len(features), GATHER_CHUNK):
                stop = start + GATHER_CHUNK
                feats = gather(features[start:stop].to(device), dst=0)
                idx = gather(indices[start:stop].to(device), dst=0)
                if rank == 0:
                    for part_feats, part_idx in zip(feats, idx):
                        full[part_idx.cpu().numpy()] = part_feats.cpu().numpy()
                        seen[part_idx.cpu().numpy()] = True
        if rank != 0:
            return None
        if not seen.all():
            raise RuntimeError(f'{int((~seen).sum())} samples got no features: the extraction '
                               'loader did not visit the whole training set')
        return full

    def recluster(self, runner) -> None:
        model = self.unwrap(runner)
        num_samples = len(self.loader.dataset)
        features = self.gather_features(*self.extract(model), num_samples)
        labels = torch.empty(num_samples, dtype=torch.long)
        stats = {}
        if features is not None:  # rank 0
            seed = (runner.seed if self.seed is None else self.seed) + runner.epoch
            assignment, stats = cluster_features(
                features, model.num_clusters, self.pca_dim, self.kmeans_iters, seed,
                self.backend)
            labels = torch.from_numpy(assignment)
        broadcast(labels, src=0)
        model.set_pseudo_labels(labels)
        model.reset_head()
        self.drop_head_optimizer_state(runner, model)
        if self.uniform_sampling:
            runner.train_dataloader.sampler.set_labels(labels.numpy())
        if features is not None:
            self.log(runner, labels.numpy(), stats)

    @staticmethod
    def drop_head_optimizer_state(runner, model) -> None:
        head_params = set(model.head.parameters())
        optim_wrapper = runner.optim_wrapper
        wrappers = (optim_wrapper.values() if isinstance(optim_wrapper, OptimWrapperDict)
                    else [optim_wrapper])
        for wrapper in wrappers:
            for param in head_params:
                wrapper.optimizer.state.pop(param, None)

    def log(self, runner, labels: np.ndarray, stats: dict) -> None:
        from sklearn.metrics import normalized_mutual_info_score as nmi
        sizes = np.bincount(labels)
        scalars = dict(stats, largest_cluster=int(sizes.max()),
                       smallest_cluster=int(sizes.min()))
        if self.previous_labels is not None:
            scalars['nmi_previous'] = float(nmi(self.previous_labels, labels))
        if self.true_labels is not None:
            scalars['nmi_true_labels'] = float(nmi(self.true_labels, labels))
        self.previous_labels = labels
        runner.logger.info(f'DeepCluster epoch {runner.epoch}: {len(sizes)} clusters, ' +
                           ', '.join(f'{k} {v:.4f}' if isinstance(v, float) else f'{k} {v}'
                                     for k, v in scalars.items()))
        runner.visualizer.add_scalars({f'deepcluster/{k}': v for k, v in scalars.items()},
                                      step=runner.iter)
