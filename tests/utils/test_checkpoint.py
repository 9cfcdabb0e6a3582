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


def test_full_checkpoints_load_only_when_trusted_explicitly(tmp_path, monkeypatch):
    path = tmp_path / 'epoch_1.pth'
    torch.save({'state_dict': {}, 'message_hub': Marker()}, path)
    monkeypatch.delenv('MMCOC_TRUST_CHECKPOINTS', raising=False)
    with pytest.raises(RuntimeError) as err:
        load_checkpoint_file(str(path))
    message = str(err.value)
    assert 'test_checkpoint.Marker' in message  # what the file holds that is not allowed
    assert '--trust-checkpoint' in message and 'tools/model_converters/weights_only.py' in message
    assert isinstance(load_checkpoint_file(str(path), trust=True)['message_hub'], Marker)
    monkeypatch.setenv('MMCOC_TRUST_CHECKPOINTS', '1')
    assert isinstance(load_checkpoint_file(str(path))['message_hub'], Marker)


def test_random_bytes_are_not_a_checkpoint_and_get_no_advice_to_trust(tmp_path):
    path = tmp_path / 'noise.pth'
    path.write_bytes(bytes(range(7, 250)) * 40)
    with pytest.raises(RuntimeError, match='is not a PyTorch checkpoint') as err:
        load_checkpoint_file(str(path))
    assert 'trust' not in str(err.value)


def test_plain_round_trip_of_history_buffers_and_numpy():
    import numpy as np
    from mmengine.logging import HistoryBuffer

    from mmcoc.utils import from_plain, to_plain
    buffer = HistoryBuffer([1.0, 2.5], [1, 2], max_length=7)
    state = {'log_scalars': {'loss': buffer}, 'runtime_info': {'best': np.float64(0.5),
             'curve': np.arange(3, dtype=np.int32), 'ids': [np.int64(4)], 'name': 'x'}}
    plain = to_plain(state)
    import io
    raw = io.BytesIO()
    torch.save(plain, raw)
    raw.seek(0)
    back = from_plain(torch.load(raw, weights_only=True))
    rebuilt = back['log_scalars']['loss']
    assert isinstance(rebuilt, HistoryBuffer) and rebuilt.max_length == 7
    assert rebuilt.data[0].tolist() == [1.0, 2.5] and rebuilt.data[1].tolist() == [1, 2]
    info = back['runtime_info']
    assert info['best'] == 0.5 and info['curve'].dtype == np.int32
    assert info['curve'].tolist() == [0, 1, 2] and info['ids'] == [4] and info['name'] == 'x'
