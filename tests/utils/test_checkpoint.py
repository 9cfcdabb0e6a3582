import os

import pytest
import torch

from mmcoc.utils import load_checkpoint_file


class Payload:
    def __reduce__(self):
        return (os.system, ('echo pwned',))


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
