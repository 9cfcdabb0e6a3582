"""Odd and broken inputs through the real APIs (mmdet's and mmseg's inference, datasets,
checkpoint loading, the backbone and the clustering op): each one is handled correctly or
stopped with an error that names the problem and the fix."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmcoc  # noqa: F401  (registers the checkpoint loader and the mmcoc scope)
from mmcoc.datasets import write_coco
from mmcoc.models.backbones import ContextCluster
from mmcoc.models.layers import context_cluster
from mmcoc.utils.config import build_model

ROOT = Path(__file__).parents[1]
DET_CONFIG = str(ROOT / 'configs/demo/coc_tiny_maskrcnn_demo.py')
SEG_CONFIG = str(ROOT / 'configs/demo/coc_tiny_fpn_demo.py')


@pytest.fixture(scope='module')
def detector():
    from mmdet.apis import init_detector
    torch.manual_seed(0)
    model = init_detector(DET_CONFIG, None, device='cpu')
    model.test_cfg.rcnn.score_thr = 0.0  # random weights: keep every box, so boxes are compared
    return model


def scene(height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def detect(model, image):
    from mmdet.apis import inference_detector
    init_default_scope('mmdet')  # mmseg's init_model in the same process switched it
    return inference_detector(model, str(image)).pred_instances


@pytest.mark.parametrize('size', [(1, 1), (31, 47), (3000, 4000)])
def test_detector_takes_any_image_size(detector, tmp_path, size):
    path = tmp_path / 'odd.png'
    cv2.imwrite(str(path), scene(*size))
    boxes = detect(detector, path).bboxes
    assert torch.isfinite(boxes).all()
    # boxes come back in the coordinates of the original image
    height, width = size
    assert (boxes[:, 0::2] <= width + 1e-3).all() and (boxes[:, 1::2] <= height + 1e-3).all()


@pytest.mark.parametrize('size', [(1, 1), (31, 47), (3000, 4000)])
def test_segmentor_labels_every_pixel_of_any_size(tmp_path, size):
    from mmseg.apis import inference_model, init_model
    path = tmp_path / 'odd.png'
    cv2.imwrite(str(path), scene(*size))
    model = init_model(SEG_CONFIG, None, device='cpu')
    seg = inference_model(model, str(path)).pred_sem_seg.data
    assert list(seg.shape) == [1, *size]


def test_gray_rgba_and_16bit_pngs_read_as_their_8bit_rgb(detector, tmp_path):
    rgb = scene(90, 120, seed=1)
    gray = cv2.cvtColor(rgb, cv2.COLOR_BGR2GRAY)
    files = {'gray': gray, 'gray_rgb': cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), 'rgb': rgb,
             'rgba': cv2.cvtColor(rgb, cv2.COLOR_BGR2BGRA),
             'rgb16': rgb.astype(np.uint16) * 257}  # 16-bit: x * 257 >> 8 == x
    for name, image in files.items():
        cv2.imwrite(str(tmp_path / f'{name}.png'), image)
    assert cv2.imread(str(tmp_path / 'rgb16.png'), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    results = {name: detect(detector, tmp_path / f'{name}.png').bboxes for name in files}
    assert torch.equal(results['gray'], results['gray_rgb'])
    assert torch.equal(results['rgba'], results['rgb'])
    assert torch.equal(results['rgb16'], results['rgb'])


@pytest.fixture
def shapes(tmp_path):
    """A tiny COCO set of our own (tests corrupt its files), its images stored as JPEG."""
    root = write_coco(tmp_path / 'coco', dict(train=3), size_range=(64, 80))
    coco = json.loads((root / 'annotations/instances_train2017.json').read_text())
    for image in coco['images']:
        png = root / 'train2017' / image['file_name']
        cv2.imwrite(str(png.with_suffix('.jpg')), cv2.imread(str(png)))
        png.unlink()
        image['file_name'] = png.with_suffix('.jpg').name
    (root / 'annotations/instances_train2017.json').write_text(json.dumps(coco))
    return root


def build_train_set(root, **loader):
    from mmdet.registry import DATASETS
    cfg = Config.fromfile(DET_CONFIG)
    init_default_scope('mmdet')
    dataset = cfg.train_dataloader.dataset
    dataset.update(data_root=str(root), filter_cfg=dict(filter_empty_gt=False))
    dataset.pipeline[0].update(loader)
    return DATASETS.build(dataset)


def image_index(dataset, path):
    return [Path(dataset.get_data_info(i)['img_path']).name
            for i in range(len(dataset))].index(path.name)


@pytest.mark.parametrize('damage', ['truncated', 'garbage', 'empty'])
def test_broken_jpeg_in_a_dataset_is_named(shapes, damage):
    path = sorted((shapes / 'train2017').glob('*.jpg'))[1]
    data = path.read_bytes()
    path.write_bytes({'truncated': data[:len(data) // 2], 'garbage': b'\x00' * 500,
                      'empty': b''}[damage])
    dataset = build_train_set(shapes)
    index = image_index(dataset, path)
    with pytest.raises(OSError, match=f"{path}.*on_error='skip'"):
        dataset[index]


def test_broken_jpeg_is_skipped_with_a_warning_when_configured(shapes):
    import logging

    from mmengine.logging import MMLogger
    path = sorted((shapes / 'train2017').glob('*.jpg'))[0]
    path.write_bytes(path.read_bytes()[:300])
    dataset = build_train_set(shapes, on_error='skip')
    index = image_index(dataset, path)
    warnings = []
    collector = logging.Handler(logging.WARNING)
    collector.emit = lambda record: warnings.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(collector)
    try:
        item = dataset[index]  # training: mmengine's dataset draws another image instead
    finally:
        logger.removeHandler(collector)
    assert Path(item['data_samples'].img_path).name != path.name
    assert f'skipping image {path}: it is truncated (its JPEG end marker is missing)' in warnings


def test_image_without_annotations_trains_with_finite_losses(shapes):
    from mmengine.dataset import pseudo_collate
    ann_file = shapes / 'annotations/instances_train2017.json'
    coco = json.loads(ann_file.read_text())
    empty_id = coco['images'][0]['id']
    coco['annotations'] = [a for a in coco['annotations'] if a['image_id'] != empty_id]
    ann_file.write_text(json.dumps(coco))
    dataset = build_train_set(shapes)
    empty = next(i for i in range(len(dataset)) if dataset.get_data_info(i)['img_id'] == empty_id)
    assert len(dataset[empty]['data_samples'].gt_instances) == 0
    model = build_model(Config.fromfile(DET_CONFIG))
    model.train()
    batch = model.data_preprocessor(pseudo_collate([dataset[empty], dataset[1 - empty]]), True)
    total, _ = model.parse_losses(model(**batch, mode='loss'))
    total.backward()
    assert torch.isfinite(total)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_checkpoint_of_another_arch_names_key_and_shapes(tmp_path):
    small = ContextCluster(arch='small')
    path = tmp_path / 'coc_small.pth'
    torch.save(small.state_dict(), path)
    tiny = ContextCluster(arch='tiny', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(ValueError, match=r"'patch_embed.proj.weight' has shape \(64, 5, 4, 4\) "
                                         r'in the checkpoint but \(32, 5, 4, 4\) in the model'):
        tiny.init_weights()


def test_detector_checkpoint_of_another_arch_stops_the_tools(detector, tmp_path):
    from mmcoc.engine import build_runner
    path = tmp_path / 'tiny_detector.pth'
    torch.save({'state_dict': detector.state_dict()}, path)
    cfg = Config.fromfile(DET_CONFIG)
    cfg.merge_from_dict({'model.backbone.arch': 'small',
                         'model.neck.in_channels': [64, 128, 320, 512]})
    cfg.update(work_dir=str(tmp_path / 'work'), load_from=str(path))
    cfg.test_dataloader.dataset.data_root = str(tmp_path)
    runner = build_runner(cfg)
    with pytest.raises(ValueError, match=r"'backbone.patch_embed.proj.weight' has shape "
                                         r'\(32, 5, 4, 4\) in the checkpoint but \(64, 5, 4, 4\)'):
        runner.load_or_resume()


def test_truncated_checkpoint_is_named_by_the_inference_api(detector, tmp_path):
    from mmcoc.apis import load_model
    path = tmp_path / 'detector.pth'
    torch.save({'state_dict': detector.state_dict()}, path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 3])
    with pytest.raises(RuntimeError, match='truncated or not a PyTorch checkpoint'):
        load_model(DET_CONFIG, str(path))


def test_unknown_arch_lists_the_known_ones():
    cfg = Config.fromfile(DET_CONFIG)
    cfg.model.backbone.arch = 'huge'
    with pytest.raises(KeyError, match="'huge'.*known archs: tiny, tiny_plain, small, medium"):
        build_model(cfg)


@pytest.mark.parametrize('value', [float('nan'), float('inf'), -float('inf')])
def test_nan_or_inf_input_is_refused_where_it_enters(value):
    from mmcoc.engine import FiniteInputsHook
    images = torch.randn(3, 64, 64)
    images[1, 5, 7] = value
    batch = dict(inputs=[torch.zeros(3, 8, 8, dtype=torch.uint8), images], data_samples=[])
    with pytest.raises(ValueError, match='val batch 4: .*1 NaN or Inf values.*normalisation'):
        FiniteInputsHook().before_val_iter(None, 4, batch)
    FiniteInputsHook().before_train_iter(None, 0, dict(inputs=[images.nan_to_num()]))


def test_the_model_forward_does_not_check_inputs_itself(detector):
    # the check is where data enters; inside forward it would sync the GPU on every step
    images = torch.randn(1, 3, 64, 64)
    images[0, 1, 5, 7] = float('nan')
    detector.extract_feat(images)


def test_zero_region_gives_finite_clusters_and_gradients():
    torch.manual_seed(0)
    feats = torch.randn(2, 8, 12, 12)
    feats[:, :, :6, :6] = 0  # the first of 2x2 regions: every point and center is zero
    values = torch.randn(2, 8, 12, 12)
    feats.requires_grad_(True)
    values.requires_grad_(True)
    alpha, beta = torch.ones(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    out = context_cluster(feats, values, alpha, beta, heads=2, proposals=2, folds=2)
    out.square().sum().backward()
    for tensor in (out, feats.grad, values.grad, alpha.grad, beta.grad):
        assert torch.isfinite(tensor).all()
    # zero vectors have cosine 0 with everything: s = sigmoid(beta) there, as the formula says
    region = out[:, :4, :6, :6]
    assert region.abs().sum() > 0


def test_zero_image_region_through_the_backbone():
    backbone = ContextCluster(arch='tiny', out_indices=(0, 1, 2, 3))
    images = torch.randn(1, 3, 64, 64)
    images[:, :, :32, :32] = 0
    images.requires_grad_(True)
    outs = backbone(images)
    sum(o.sum() for o in outs).backward()
    assert all(torch.isfinite(o).all() for o in outs) and torch.isfinite(images.grad).all()
