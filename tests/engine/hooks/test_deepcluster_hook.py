"""DeepClusterHook in a real Runner: one process, and two gloo processes on the CPU."""
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from mmcoc.engine import build_runner
from mmcoc.utils.config import load_config

pytestmark = pytest.mark.slow  # subprocesses, exports, compiles or docs: make test-fast skips

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
CONFIG = str(HERE / 'tiny_deepcluster.py')
NUM_CLUSTERS = 3  # tiny_deepcluster.py
NUM_TRAIN = 8  # the tiny_imagenet fixture


def data_option(root):
    return {'train_dataloader.dataset.data_root': str(root)}


@pytest.fixture(scope='module')
def trained(tiny_imagenet, tmp_path_factory):
    """Two epochs in this process; what each re-clustering left is in rank0_epoch{0,1}.pth."""
    work_dir = tmp_path_factory.mktemp('deepcluster')
    cfg = load_config(CONFIG, cfg_options=data_option(tiny_imagenet),
                      work_dir=str(work_dir))
    runner = build_runner(cfg)
    runner.train()
    records = [torch.load(work_dir / f'rank0_epoch{e}.pth') for e in (0, 1)]
    return work_dir, runner, records


def test_every_sample_gets_a_valid_label_in_every_cluster(trained):
    _, runner, records = trained
    for record in records:
        labels = record['pseudo_labels']
        assert labels.shape == (NUM_TRAIN, ) and labels.dtype == torch.long
        # k-means plus re-seeding: every cluster is used, every label is a cluster
        assert sorted(labels.unique().tolist()) == list(range(NUM_CLUSTERS))
        assert torch.equal(record['sampler_labels'], labels)  # the sampler was rebuilt


def test_head_is_reinitialised_and_its_optimizer_state_dropped(trained):
    _, runner, records = trained
    trained_head = runner.model.head.state_dict()
    for record in records:
        weight, bias = record['head']['fc.weight'], record['head']['fc.bias']
        assert weight.shape == (NUM_CLUSTERS, 320)
        assert torch.all(bias == 0)
        assert 0.008 < weight.std().item() < 0.012  # N(0, 0.01), 960 draws
    # epoch 1 starts from a new head, not from the one trained in epoch 0
    assert not torch.equal(records[1]['head']['fc.weight'], records[0]['head']['fc.weight'])
    assert not torch.equal(trained_head['fc.weight'], records[1]['head']['fc.weight'])
    # after an epoch of AdamW every trained parameter has moments, but not the new head's
    assert records[1]['backbone_params_with_state'] > 0
    assert records[1]['head_params_with_state'] == 0


def test_nmi_is_logged(trained):
    work_dir, _, _ = trained
    scalars = [json.loads(line) for log in work_dir.glob('*/vis_data/scalars.json')
               for line in log.read_text().splitlines()]
    clustering = [s for s in scalars if 'deepcluster/nmi_true_labels' in s]
    assert len(clustering) == 2
    assert 'deepcluster/nmi_previous' in clustering[1]  # from the second clustering on
    for s in clustering:
        assert 0 <= s['deepcluster/nmi_true_labels'] <= 1
        assert s['deepcluster/reseeded_clusters'] >= 0
    log = next(work_dir.glob('*/*.log')).read_text()
    assert 'DeepCluster epoch 1: 3 clusters' in log and 'nmi_previous' in log


def test_training_without_the_hook_fails_clearly(tiny_imagenet, tmp_path):
    cfg = load_config(CONFIG, cfg_options=data_option(tiny_imagenet), work_dir=str(tmp_path))
    cfg.custom_hooks = []
    cfg.custom_imports = dict(imports=['mmcoc'], allow_failed_imports=False)
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=True)
    with pytest.raises(RuntimeError, match='DeepClusterHook'):
        build_runner(cfg).train()


def test_hook_needs_the_cluster_uniform_sampler(tiny_imagenet, tmp_path):
    cfg = load_config(CONFIG, cfg_options=data_option(tiny_imagenet),
                      work_dir=str(tmp_path))
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=True)
    with pytest.raises(TypeError, match='ClusterUniformSampler'):
        build_runner(cfg).train()


def test_two_gloo_processes_train_on_the_same_labels(tiny_imagenet, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS='1', PORT='29531',
               PYTHONPATH=f'{ROOT}:{HERE}')  # mmcoc and the recorder hook
    result = subprocess.run(
        ['bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir', str(tmp_path),
         '--cfg-options', f'train_dataloader.dataset.data_root={tiny_imagenet}'],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for epoch in (0, 1):
        ranks = [torch.load(tmp_path / f'rank{r}_epoch{epoch}.pth') for r in (0, 1)]
        labels = [r['pseudo_labels'] for r in ranks]
        assert torch.equal(labels[0], labels[1])
        assert sorted(labels[0].unique().tolist()) == list(range(NUM_CLUSTERS))
        for rank in ranks:
            assert torch.equal(rank['sampler_labels'], labels[0])
        # the ranks split one cluster-uniform epoch between them, 4 samples each
        drawn = torch.cat([r['rank_indices'] for r in ranks])
        assert len(drawn) == NUM_TRAIN
        assert np.all(np.bincount(labels[0][drawn].numpy(), minlength=NUM_CLUSTERS) >= 2)


def test_resume_between_reclusterings_keeps_the_assignment(tiny_imagenet, tmp_path):
    """Re-clustering every 2 epochs, killed after epoch 0 and resumed: epoch 1 trains on the
    labels of epoch 0, restored from the checkpoint, not on a fresh clustering."""
    options = dict(data_option(tiny_imagenet), **{'custom_hooks.0.interval': 2,
                                                  'default_hooks.checkpoint.interval': 1})
    first = tmp_path / 'first'
    cfg = load_config(CONFIG, cfg_options=dict(options, **{'train_cfg.max_epochs': 1}),
                      work_dir=str(first))
    build_runner(cfg).train()
    checkpoint = torch.load(first / 'epoch_1.pth', weights_only=False)
    saved = checkpoint['deepcluster']['pseudo_labels']
    assert torch.equal(saved, torch.load(first / 'rank0_epoch0.pth')['pseudo_labels'])

    resumed = tmp_path / 'resumed'
    cfg = load_config(CONFIG, cfg_options=options, work_dir=str(resumed))
    cfg.resume, cfg.load_from = True, str(first / 'epoch_1.pth')
    build_runner(cfg).train()
    record = torch.load(resumed / 'rank0_epoch1.pth')
    assert torch.equal(record['pseudo_labels'], saved)
    assert torch.equal(record['sampler_labels'], saved)
    log = next(resumed.glob('*/*.log')).read_text()
    assert 'DeepCluster epoch' not in log  # no re-clustering in the resumed epoch
