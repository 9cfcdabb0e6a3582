"""The clustering step of DeepCluster on a features matrix: PCA whitening, L2 normalisation,
k-means (faiss where installed, else scikit-learn), re-seeding of empty clusters.

Kept apart from the hook so that it can be tested and reused on plain arrays.
"""
import importlib.util
from typing import Dict, Optional, Tuple

import numpy as np

BACKENDS = ('auto', 'faiss', 'sklearn')


def resolve_backend(backend: str = 'auto') -> str:
    """``'auto'``: faiss if it is installed (much faster for large k), else scikit-learn."""
    if backend not in BACKENDS:
        raise ValueError(f'k-means backend must be one of {BACKENDS}, got {backend!r}')
    if backend == 'auto':
        return 'faiss' if importlib.util.find_spec('faiss') is not None else 'sklearn'
    if importlib.util.find_spec(backend) is None:
        package = 'faiss-cpu' if backend == 'faiss' else 'scikit-learn'
        raise ImportError(f'k-means backend {backend!r} is not installed: pip install {package} '
                          "(or use backend='auto')")
    return backend


def pca_whiten(features: np.ndarray, dim: int, seed: Optional[int] = None) -> np.ndarray:
    """Project on the ``dim`` leading principal axes, each scaled to unit variance, then
    L2-normalise every row (float32), as the reference prepares features for k-means."""
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import normalize
    num, channels = features.shape
    if not 1 <= dim <= min(num, channels):
        raise ValueError(f'PCA to {dim} dimensions needs at least {dim} samples and {dim} '
                         f'feature channels; got {num} samples of {channels} channels. Lower '
                         'pca_dim in DeepClusterHook (the paper uses 256 on ImageNet)')
    # scikit-learn floors the scale of near-zero variance axes, so whitening stays finite
    # even on the degenerate features of a randomly initialised network.
    whitened = PCA(dim, whiten=True, random_state=seed).fit_transform(
        features.astype(np.float32, copy=False))
    return normalize(whitened).astype(np.float32, copy=False)


def run_kmeans(x: np.ndarray, k: int, iters: int = 20, seed: int = 0,
               backend: str = 'auto') -> Tuple[np.ndarray, float]:
    """Lloyd's k-means of the rows of ``x``: (assignment of every row, final sum of squared
    distances). faiss as the reference runs it (random initial centers, no subsampling of
    large sets); scikit-learn with its k-means++ initialisation."""
    num = len(x)
    if not 2 <= k <= num:
        raise ValueError(f'k-means with k={k} needs 2 <= k <= number of samples ({num})')
    x = np.ascontiguousarray(x, dtype=np.float32)
    if resolve_backend(backend) == 'faiss':
        import faiss
        kmeans = faiss.Kmeans(x.shape[1], k, niter=iters, seed=seed,
                              max_points_per_centroid=max(num, 1),  # never subsample
                              min_points_per_centroid=1)  # small clusters are fine, no warning
        kmeans.train(x)
        distances, labels = kmeans.index.search(x, 1)
        return labels[:, 0].astype(np.int64), float(distances.sum())
    from sklearn.cluster import KMeans
    kmeans = KMeans(k, n_init=1, max_iter=iters, random_state=seed).fit(x)
    return kmeans.labels_.astype(np.int64), float(kmeans.inertia_)


def reseed_empty_clusters(labels: np.ndarray, x: np.ndarray, k: int) -> Tuple[np.ndarray, int]:
    """Give every empty cluster half of the currently largest one.

    The largest cluster is split at the median of its members' projection on their first
    principal axis, so both halves are non-empty and spatially coherent. Returns the new
    labels and how many clusters were re-seeded. (The reference implementation crashed in
    its sampler when k-means left a cluster empty.)
    """
    labels = np.asarray(labels, dtype=np.int64).copy()
    if len(labels) < k:
        raise ValueError(f'{len(labels)} samples cannot fill {k} clusters; lower the number '
                         'of clusters (the head\'s num_classes)')
    sizes = np.bincount(labels, minlength=k)
    empty = np.flatnonzero(sizes == 0)
    for cluster in empty:
        largest = int(np.argmax(sizes))
        members = np.flatnonzero(labels == largest)
        centred = x[members] - x[members].mean(axis=0)
        axis = np.linalg.svd(centred, full_matrices=False)[2][0]
        order = np.argsort(centred @ axis, kind='stable')
        moved = members[order[len(members) // 2:]]
        labels[moved] = cluster
        sizes[largest] -= len(moved)
        sizes[cluster] = len(moved)
    return labels, len(empty)


def cluster_features(features: np.ndarray, k: int, pca_dim: int = 256, iters: int = 20,
                     seed: int = 0, backend: str = 'auto') -> Tuple[np.ndarray, Dict]:
    """DeepCluster's clustering of a ``[N, C]`` features matrix into ``k`` non-empty
    clusters: labels ``[N]`` and a dict of statistics (k-means loss, re-seeded clusters)."""
    if not np.isfinite(features).all():
        raise ValueError('the features to cluster contain NaN or inf: the network diverged '
                         '(lower the learning rate)')
    x = pca_whiten(features, pca_dim, seed)
    labels, loss = run_kmeans(x, k, iters, seed, backend)
    labels, reseeded = reseed_empty_clusters(labels, x, k)
    return labels, dict(kmeans_loss=loss, reseeded_clusters=reseeded)
