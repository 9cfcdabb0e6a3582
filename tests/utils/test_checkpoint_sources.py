"""Every source of weights goes through the one weights-only reader: local files, http(s),
torch's download cache, mmengine's prefixes and file backends."""
import pytest
import torch

from mmcoc.utils import load_checkpoint_file
from mmcoc.utils.checkpoint import resolve_url
from tests.helpers import Payload


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A fresh torch hub folder: the download cache mmengine, timm and mmcoc share."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.delenv('MMCOC_TRUST_CHECKPOINTS', raising=False)
    return tmp_path / 'torch_home' / 'hub' / 'checkpoints'


def test_a_payload_served_over_http_never_runs_nor_from_the_cache(weights_server, hub,
                                                                  tmp_path):
    marker = tmp_path / 'pwned'
    torch.save({'state_dict': {'w': torch.ones(1)}, 'x': Payload(marker)},
               weights_server.folder / 'evil.pth')
    url = f'{weights_server.url}/evil.pth'
    for attempt in range(2):  # downloaded, then read again from the download cache
        with pytest.raises(RuntimeError, match=r'holds a pickled posix\.system') as err:
            load_checkpoint_file(url)
        assert not marker.exists()
        assert 'run posix.system' in str(err.value)  # trusting it is said to run it
    assert weights_server.requests == ['/evil.pth']  # the second read came from the cache
    assert (hub / 'evil.pth').is_file()


def test_a_payload_already_in_the_download_cache_never_runs(weights_server, hub, tmp_path):
    marker = tmp_path / 'pwned'
    hub.mkdir(parents=True)
    torch.save({'x': Payload(marker)}, hub / 'cached.pth')  # planted by an earlier download
    with pytest.raises(RuntimeError, match='posix.system'):
        load_checkpoint_file(f'{weights_server.url}/cached.pth')
    assert not marker.exists() and weights_server.requests == []


def test_plain_weights_over_http_load_and_come_from_the_cache_next_time(weights_server, hub):
    torch.save({'state_dict': {'w': torch.arange(3.)}}, weights_server.folder / 'ok.pth')
    url = f'{weights_server.url}/ok.pth'
    for _ in range(2):
        assert torch.equal(load_checkpoint_file(url)['state_dict']['w'], torch.arange(3.))
    assert weights_server.requests == ['/ok.pth']


def test_mmengine_prefixes_resolve_to_their_index_and_unknown_schemes_are_named():
    assert resolve_url('torchvision://resnet18').startswith('https://')
    with pytest.raises(KeyError, match='knows no model'):
        resolve_url('open-mmlab://no_such_model')
    with pytest.raises(RuntimeError, match="'nosuch://x.pth' cannot be read here"):
        load_checkpoint_file('nosuch://x.pth')


class Plain:
    """An object of a class that runs nothing when rebuilt."""


def test_a_class_that_is_no_code_runner_gets_the_trust_advice(tmp_path):
    path = tmp_path / 'odd.pth'
    torch.save({'x': Plain()}, path)
    with pytest.raises(RuntimeError) as err:
        load_checkpoint_file(str(path))
    message = str(err.value)
    assert 'test_checkpoint_sources.Plain' in message and '--trust-checkpoint' in message
    assert 'unpickles it in full too' in message  # the converter is not offered as safe


def test_a_folder_is_not_a_checkpoint(tmp_path):
    with pytest.raises(IsADirectoryError, match='is a folder, not a file'):
        load_checkpoint_file(str(tmp_path))


def test_non_finite_optimizer_state_is_refused_like_weights(tmp_path):
    path = tmp_path / 'epoch_3.pth'
    state = {'state': {0: {'exp_avg': torch.tensor([1.0, float('nan')]), 'step': 3}},
             'param_groups': [{'lr': 0.1, 'params': [0]}]}
    torch.save({'state_dict': {'w': torch.ones(2)}, 'optimizer': state}, path)
    with pytest.raises(ValueError, match=r"optimizer state \(optimizer\['state'\]\[0\]"
                                         r"\['exp_avg'\]\).*load_from="):
        load_checkpoint_file(str(path))
