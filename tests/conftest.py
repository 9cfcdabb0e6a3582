import os

import pytest
import torch

if not torch.cuda.is_available():
    # Triton's interpreter runs the clustering kernels on CPU tensors here
    # (tests/models/layers/test_fused_clustering.py). Triton reads it when a kernel is defined,
    # so before anything imports Triton; no other test runs Triton on a CPU.
    os.environ.setdefault('TRITON_INTERPRET', '1')

from mmcoc.datasets import write_ade, write_coco, write_imagenet


@pytest.fixture(scope='session')
def tiny_coco(tmp_path_factory):
    """A few demo-shape images of 64-95 px (mostly not multiples of 32), COCO format."""
    return write_coco(tmp_path_factory.mktemp('tiny_coco'), dict(train=4, val=2),
                      size_range=(64, 95))


@pytest.fixture(scope='session')
def tiny_ade(tmp_path_factory):
    """The same kind of images as ``tiny_coco``, ADE20K's semantic segmentation layout."""
    return write_ade(tmp_path_factory.mktemp('tiny_ade'), dict(training=4, validation=2),
                     size_range=(64, 95))


@pytest.fixture(scope='session')
def tiny_imagenet(tmp_path_factory):
    """One-shape demo images of 64-80 px in ImageNet's folder layout, two per class in train."""
    return write_imagenet(tmp_path_factory.mktemp('tiny_imagenet'), dict(train=8, val=4),
                          size_range=(64, 80))


@pytest.fixture(scope='module')
def one_thread():
    """torch on one thread for a test module (``pytest.mark.usefixtures('one_thread')``)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def weights_server(tmp_path):
    """An HTTP server on 127.0.0.1 (a free port) serving the folder it returns; its base URL
    is ``server.url``. Requests are counted in ``server.requests``."""
    import functools
    import http.server
    import threading
    import types

    folder = tmp_path / 'served'
    folder.mkdir()
    state = types.SimpleNamespace(folder=folder, requests=[])

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            state.requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ('127.0.0.1', 0), functools.partial(Handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f'http://127.0.0.1:{server.server_address[1]}'
    yield state
    server.shutdown()
    server.server_close()
