"""DeepCluster's clustering step: PCA whitening, k-means with both backends, empty clusters."""
import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score

from mmcoc.engine.hooks.kmeans import (
    cluster_features,
    pca_whiten,
    reseed_empty_clusters,
    resolve_backend,
    run_kmeans,
)

BACKENDS = ['sklearn'] + (['faiss'] if resolve_backend('auto') == 'faiss' else [])


def blobs(num_per_blob=40, num_blobs=4, dim=16, seed=0):
    """Well separated Gaussian blobs along random directions, with their true blob."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(num_blobs, dim)) * 10
    truth = np.repeat(np.arange(num_blobs), num_per_blob)
    return (centers[truth] + rng.normal(size=(len(truth), dim))).astype(np.float32), truth


def test_pca_whitening_gives_unit_rows_of_decorrelated_axes():
    rng = np.random.default_rng(0)
    # correlated features whose scales differ by 1000x: whitening must equalise them
    features = rng.normal(size=(500, 8)) @ np.diag([1000., 100., 10., 3., 1., .5, .3, .1])
    features = features @ np.linalg.qr(rng.normal(size=(8, 8)))[0]
    x = pca_whiten(features, 4)
    assert x.shape == (500, 4) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1, atol=1e-5)
    # naive reference: eigenvectors of the covariance, each axis scaled to unit variance
    centred = features - features.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(centred, rowvar=False))
    top = np.argsort(values)[::-1][:4]
    reference = centred @ vectors[:, top] / np.sqrt(values[top])
    reference /= np.linalg.norm(reference, axis=1, keepdims=True)
    # axes agree up to their sign (PCA runs in float32 on features spanning 1000x scales)
    signs = np.sign(np.sum(x * reference, axis=0))
    np.testing.assert_allclose(x * signs, reference, atol=2e-3)


def test_pca_dim_beyond_the_data_is_a_clear_error():
    with pytest.raises(ValueError, match='pca_dim'):
        pca_whiten(np.zeros((10, 6), dtype=np.float32), 8)


def test_whitening_degenerate_features_stays_finite():
    rng = np.random.default_rng(0)
    features = np.repeat(rng.normal(size=(50, 1)), 6, axis=1)  # rank 1
    assert np.isfinite(pca_whiten(features, 4)).all()


@pytest.mark.parametrize('backend', BACKENDS)
def test_kmeans_finds_separated_blobs(backend):
    x, truth = blobs()
    labels, loss = run_kmeans(x, 4, iters=20, seed=0, backend=backend)
    assert labels.shape == truth.shape and labels.dtype == np.int64
    assert normalized_mutual_info_score(truth, labels) == pytest.approx(1.0)
    # the loss is the sum of squared distances to the cluster means
    means = np.stack([x[labels == c].mean(axis=0) for c in range(4)])
    assert loss == pytest.approx(((x - means[labels]) ** 2).sum(), rel=1e-3)


def test_reseeding_splits_the_largest_cluster_along_its_main_axis():
    x, truth = blobs(num_blobs=2)  # 40 + 40 points
    x[:40, 0] += np.linspace(-50, 50, 40)  # blob 0 stretched along the first axis
    labels = truth.copy()  # clusters 2 and 3 are empty
    labels[40:50] = 1
    fixed, reseeded = reseed_empty_clusters(labels, x, 4)
    assert reseeded == 2
    sizes = np.bincount(fixed, minlength=4)
    assert sizes.min() > 0 and sizes.sum() == 80
    # the first split halves blob 0 (the largest) at the median of its long axis
    first_half = fixed[:40]
    assert len(set(first_half[:20])) == 1 and len(set(first_half[20:])) == 1
    assert first_half[0] != first_half[39]


def test_more_clusters_than_samples_is_a_clear_error():
    with pytest.raises(ValueError, match='lower the number of clusters'):
        reseed_empty_clusters(np.zeros(3, dtype=np.int64), np.zeros((3, 2)), 5)


@pytest.mark.parametrize('backend', BACKENDS)
def test_clustering_leaves_no_cluster_empty(backend):
    """Only 3 distinct points for 6 clusters: k-means leaves 3 clusters empty; re-seeding
    fills them all."""
    x, _ = blobs(num_per_blob=1, num_blobs=3, dim=8)
    labels, stats = cluster_features(np.repeat(x, 10, axis=0), 6, pca_dim=2, seed=0,
                                     backend=backend)
    assert sorted(set(labels.tolist())) == list(range(6))
    assert stats['reseeded_clusters'] == 3


def test_diverged_features_are_a_clear_error():
    features = np.ones((10, 4), dtype=np.float32)
    features[3, 1] = np.nan
    with pytest.raises(ValueError, match='NaN'):
        cluster_features(features, 2, pca_dim=2)


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match='backend'):
        resolve_backend('scipy')
