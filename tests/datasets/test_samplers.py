"""ClusterUniformSampler: every cluster equally likely, whatever its size."""
import numpy as np
import pytest
from scipy.stats import chisquare

import mmcoc.datasets.samplers as samplers
from mmcoc.datasets.samplers import ClusterUniformSampler

# Imbalanced clusters: one holds 90% of the 1000 samples, nine share the rest.
SIZES = [900] + [10, 12, 8, 15, 5, 20, 11, 9, 10]
LABELS = np.repeat(np.arange(len(SIZES)), SIZES)
np.random.default_rng(0).shuffle(LABELS)


def cluster_counts(labels, indices):
    return np.bincount(labels[indices], minlength=labels.max() + 1)


def looks_uniform(counts):
    """Chi-square test of equal cluster frequencies (p > 0.01)."""
    return chisquare(counts).pvalue > 0.01


def test_clusters_are_drawn_uniformly_where_a_random_sampler_is_not():
    sampler = ClusterUniformSampler(range(len(LABELS)), seed=3)
    sampler.set_labels(LABELS)
    counts = []
    for epoch in range(5):
        sampler.set_epoch(epoch)
        counts.append(cluster_counts(LABELS, list(sampler)))
    counts = np.sum(counts, axis=0)
    assert looks_uniform(counts)
    assert counts.max() == counts.min()  # 1000 samples, 10 clusters: 100 each per epoch
    # the test has power: a shuffle of the same data draws clusters by their size
    shuffled = np.random.default_rng(3).permutation(len(LABELS))
    assert not looks_uniform(cluster_counts(LABELS, shuffled))


def test_small_clusters_repeat_their_members_evenly():
    sampler = ClusterUniformSampler(range(len(LABELS)), seed=0)
    sampler.set_labels(LABELS)
    indices = np.array(list(sampler))
    assert len(indices) == len(LABELS)
    repeats = np.bincount(indices, minlength=len(LABELS))
    assert np.all(repeats[LABELS == 5] == 20)  # 5 members, 100 slots
    for cluster in range(1, len(SIZES)):  # every member of a small cluster about as often
        assert np.ptp(repeats[LABELS == cluster]) <= 1
    assert repeats[LABELS == 0].max() == 1  # 900 members, 100 slots: none twice


def test_empty_clusters_are_skipped():
    labels = np.array([0] * 50 + [3] * 10 + [7] * 4)  # clusters 1, 2, 4, 5, 6 are empty
    sampler = ClusterUniformSampler(range(len(labels)), seed=0)
    sampler.set_labels(labels)
    counts = cluster_counts(labels, list(sampler))
    assert counts[[1, 2, 4, 5, 6]].sum() == 0
    assert sorted(counts[[0, 3, 7]]) == [21, 21, 22]  # 64 samples, 3 clusters


def test_epochs_differ_and_repeat_with_the_seed():
    sampler = ClusterUniformSampler(range(len(LABELS)), seed=5)
    sampler.set_labels(LABELS)
    first = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != first
    sampler.set_epoch(0)
    assert list(sampler) == first


def test_before_labels_it_is_a_shuffle():
    sampler = ClusterUniformSampler(range(10), seed=0)
    indices = list(sampler)
    assert sorted(indices) == list(range(10)) and indices != list(range(10))


def test_ranks_share_one_epoch(monkeypatch):
    labels = LABELS[:999]  # not a multiple of the world size: padded as DefaultSampler does
    parts = []
    for rank in range(2):
        monkeypatch.setattr(samplers, 'get_dist_info', lambda rank=rank: (rank, 2))
        sampler = ClusterUniformSampler(range(len(labels)), seed=1)
        sampler.set_labels(labels)
        assert len(sampler) == 500
        parts.append(list(sampler))
    full = ClusterUniformSampler(range(len(labels)), seed=1)
    full.set_labels(labels)
    epoch = full.epoch_indices()
    assert parts[0] == list(epoch[0::2]) and parts[1] == list(epoch[1::2])[:499] + [epoch[0]]


def test_labels_must_fit_the_dataset():
    sampler = ClusterUniformSampler(range(10), seed=0)
    with pytest.raises(ValueError, match='one cluster label per sample'):
        sampler.set_labels(np.zeros(9))
    with pytest.raises(ValueError, match='non-negative'):
        sampler.set_labels(-np.ones(10))
