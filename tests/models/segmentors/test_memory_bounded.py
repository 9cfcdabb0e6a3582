"""mmcoc.MemoryBoundedEncoderDecoder: the labels of mmseg's post-processing, in bounded memory."""
import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope
from mmseg.apis import inference_model, init_model
from mmseg.models.segmentors import EncoderDecoder

import mmcoc  # noqa: F401
from mmcoc.models import MemoryBoundedEncoderDecoder
from mmcoc.utils.config import load_config

CONFIG = 'configs/demo/coc_tiny_fpn_demo.py'


@pytest.fixture(scope='module')
def model():
    cfg = load_config(CONFIG)
    assert cfg.model.type == 'mmcoc.MemoryBoundedEncoderDecoder'  # the configs name it
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = init_model(cfg, None, device='cpu')
    assert isinstance(model, MemoryBoundedEncoderDecoder)
    return model


@pytest.mark.parametrize('shape', [(97, 131), (300, 200), (31, 47)])
def test_labels_equal_the_unbounded_path_exactly(model, shape):
    image = np.random.default_rng(sum(shape)).integers(0, 255, (*shape, 3), dtype=np.uint8)
    model.max_logits_bytes = 4 * shape[0] * shape[1] * 3  # three classes a chunk: chunked
    with DefaultScope.overwrite_default_scope('mmseg'):
        bounded = inference_model(model, image)
        model.max_logits_bytes = 2**40
        # mmseg's own post-processing on the same logits
        unbounded = inference_model(model, image)
        with torch.no_grad():
            logits = model.inference(*_inputs(model, image))
        plain = EncoderDecoder.postprocess_result(model, logits, _samples(model, image))[0]
    assert bounded.pred_sem_seg.shape == shape
    assert len(plain.pred_sem_seg.data.unique()) > 1  # a map worth comparing
    assert torch.equal(bounded.pred_sem_seg.data, plain.pred_sem_seg.data)
    assert torch.equal(unbounded.pred_sem_seg.data, plain.pred_sem_seg.data)
    assert torch.equal(unbounded.seg_logits.data, plain.seg_logits.data)


def _prepared(model, image):
    from mmseg.apis.utils import _preprare_data
    data, _ = _preprare_data(image, model)
    return model.data_preprocessor(data, False)


def _inputs(model, image):
    data = _prepared(model, image)
    return data['inputs'], [s.metainfo for s in data['data_samples']]


def _samples(model, image):
    return _prepared(model, image)['data_samples']


def test_ties_keep_the_first_class(model):
    logits = torch.zeros(1, 5, 4, 4)
    logits[:, 3] = 1
    logits[:, 4] = 1  # tie between 3 and 4: argmax says 3
    model.max_logits_bytes = 4 * 8 * 8 * 2  # two classes a chunk
    labels = model._chunked_labels(logits, (8, 8))
    assert labels.shape == (1, 8, 8) and (labels == 3).all()


def test_max_logits_bytes_must_be_positive():
    with pytest.raises(ValueError, match='max_logits_bytes must be positive'):
        MemoryBoundedEncoderDecoder(
            backbone=dict(type='mmcoc.ContextCluster', arch='tiny', out_indices=(0, 1, 2, 3)),
            decode_head=dict(type='mmseg.FCNHead', in_channels=320, channels=8, num_classes=2),
            max_logits_bytes=0)
