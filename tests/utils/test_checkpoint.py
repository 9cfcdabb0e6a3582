import os

import pytest
import torch

from mmcoc.utils import load_checkpoint_file


class Payload:
    def __reduce__(self):
        return (os.system, ('echo pwned',))


class Marker:
    """A plain object: weights-only loading refuses it, a full load rebuilds it."""


def test_missing_file_says_where(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        load_checkpoint_file(str(tmp_path / 'nope.pth'))


def test_truncated_checkpoint_is_named(tmp_path):
    path = tmp_path / 'full.pth'
    torch.save({'w': torch.randn(1000)}, path)
    data = path.read_bytes()
    (tmp_path / 'cut.pth').write_bytes(data[:len(data) // 2])
    with pytest.raises(RuntimeError, match='truncated or not a PyTorch checkpoint'):
        load_checkpoint_file(str(tmp_path / 'cut.pth'))


def test_pickled_code_is_never_run(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'payload': Payload()}, path)
    with pytest.raises(RuntimeError, match='weights-only loading refuses'):
        load_checkpoint_file(str(path))


def test_plain_and_namespace_checkpoints_load(tmp_path):
    import argparse
    path = tmp_path / 'ok.pth.tar'
    torch.save({'state_dict': {'w': torch.ones(2)}, 'args': argparse.Namespace(lr=0.1)}, path)
    ckpt = load_checkpoint_file(str(path))
    assert torch.equal(ckpt['state_dict']['w'], torch.ones(2)) and ckpt['args'].lr == 0.1


def test_full_checkpoints_load_only_from_trusted_places(tmp_path, monkeypatch):
    from mmengine.runner import CheckpointLoader

    import mmcoc  # noqa: F401  (registers the loader)
    from mmcoc.utils import checkpoint as ckpt_module
    from mmcoc.utils import trust_directory
    run_dir = tmp_path / 'run'
    run_dir.mkdir()
    path = run_dir / 'epoch_1.pth'
    torch.save({'state_dict': {}, 'message_hub': Marker()}, path)
    monkeypatch.setattr(ckpt_module, '_trusted_dirs', set())
    monkeypatch.delenv('MMCOC_TRUST_CHECKPOINTS', raising=False)
    with pytest.raises(RuntimeError, match='own work dir'):
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    monkeypatch.setenv('MMCOC_TRUST_CHECKPOINTS', '1')
    assert isinstance(CheckpointLoader.load_checkpoint(str(path))['message_hub'], Marker)
    monkeypatch.delenv('MMCOC_TRUST_CHECKPOINTS')
    trust_directory(str(run_dir))
    assert isinstance(load_checkpoint_file(str(path))['message_hub'], Marker)
    # a sibling directory whose name starts the same is not trusted
    other = tmp_path / 'run2'
    other.mkdir()
    torch.save({'payload': Marker()}, other / 'x.pth')
    with pytest.raises(RuntimeError, match='own work dir'):
        load_checkpoint_file(str(other / 'x.pth'))
