"""Cluster maps and predictions of whole models built from configs, and the web demo's action."""
import numpy as np
import pytest
import torch

from mmcoc.apis import RANDOM_INIT, cluster_maps, load_model, predict, predict_folder
from mmcoc.models import ContextCluster

CLS = 'configs/demo/coc_tiny_plain_cls_demo.py'


@pytest.fixture(scope='module')
def classifier():
    return load_model(CLS)


def test_model_sees_rgb_normalised_as_trained(classifier):
    seen = []
    handle = classifier.model.backbone.register_forward_pre_hook(
        lambda module, args: seen.append(args[0]))
    red = np.zeros((40, 50, 3), np.uint8)
    red[..., 0] = 255
    try:
        maps = cluster_maps(classifier, red, size=64)
    finally:
        handle.remove()
    x = seen[0]
    assert x.shape == (1, 3, 51, 64)
    assert torch.allclose(x[0, 0], torch.tensor((255 - 123.675) / 58.395))  # R first
    assert torch.allclose(x[0, 2], torch.tensor((0 - 103.53) / 57.375))
    assert (maps.image == red[0, 0]).all()


def test_maps_cover_every_layer_and_the_image_only(classifier):
    image = (np.random.default_rng(0).random((70, 100, 3)) * 255).astype(np.uint8)
    maps = cluster_maps(classifier, image, size=100)
    assert len(maps.assignments) == len(classifier.sites) == 14
    first = maps.assignments['backbone.stages.0.blocks.0.token_mixer']
    # 70x100 px at stride 4: 17x25 points (the classifier's preprocessor does not pad)
    assert first.shape == (4, 17, 25)
    assert maps.extents['backbone.stages.0.blocks.0.token_mixer'] == (17.0, 25.0)
    assert first.max() < 16  # tiny_plain: 4x4 centers, one region
    overlay, count = maps.draw(classifier.sites[0], 3)
    assert overlay.shape == maps.image.shape and 1 < count <= 16
    with pytest.raises(ValueError, match='has 4 heads'):
        maps.draw(classifier.sites[0], 4)


def test_classifier_predicts_its_config_classes(classifier):
    assert classifier.weights == RANDOM_INIT and classifier.task == 'classification'
    scores = predict(classifier, np.zeros((64, 64, 3), np.uint8), topk=3).scores
    assert len(scores) == 3 and set(scores) <= {'ellipse', 'rectangle', 'star', 'triangle'}
    assert list(scores.values()) == sorted(scores.values(), reverse=True)


def test_a_path_predicts_what_its_pixels_do(classifier, tmp_path):
    import cv2
    image = (np.random.default_rng(1).random((48, 64, 3)) * 255).astype(np.uint8)
    cv2.imwrite(str(tmp_path / 'shape.png'), image[..., ::-1])  # written as BGR: RGB on disk
    assert predict(classifier, tmp_path / 'shape.png').scores == predict(classifier, image).scores
    assert np.array_equal(cluster_maps(classifier, str(tmp_path / 'shape.png'), 64).image,
                          cluster_maps(classifier, image, 64).image)


def test_a_folder_run_names_a_bad_file_and_goes_on(classifier, tmp_path):
    import logging

    import cv2
    from mmengine.logging import MMLogger

    from mmcoc.visualization import ImageError
    for name in ('a.png', 'c.png'):
        cv2.imwrite(str(tmp_path / name), np.full((40, 40, 3), 128, np.uint8))
    (tmp_path / 'b.jpg').write_bytes(b'\xff\xd8 not really a jpeg')
    (tmp_path / '.hidden').write_text('left out')
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        results = predict_folder(classifier, tmp_path, topk=2)
    finally:
        logger.removeHandler(handler)
    assert list(results) == [str(tmp_path / n) for n in ('a.png', 'b.jpg', 'c.png')]
    assert isinstance(results[str(tmp_path / 'b.jpg')], ImageError)
    assert len(results[str(tmp_path / 'a.png')].scores) == 2
    assert len(results[str(tmp_path / 'c.png')].scores) == 2
    out = '\n'.join(r.getMessage() for r in records)
    assert f'skipped {tmp_path / "b.jpg"}: ' in out and 'predicted 3/3 files' in out
    with pytest.raises(NotADirectoryError, match='is not a folder'):
        predict_folder(classifier, tmp_path / 'a.png')


def test_prediction_uses_its_own_scope_whatever_was_loaded_last(classifier):
    # init_detector / init_model set the default scope process-wide: a classifier loaded
    # before a detector must still build mmpretrain's pipeline (the web app keeps both).
    from mmengine.registry import DefaultScope, init_default_scope
    init_default_scope('mmdet')
    scores = predict(classifier, np.zeros((64, 64, 3), np.uint8), topk=2).scores
    assert len(scores) == 2
    assert DefaultScope.get_current_instance().scope_name == 'mmdet'  # left as it was


def test_whole_and_backbone_checkpoints_load(classifier, tmp_path):
    state = {k: v + 0.5 for k, v in classifier.model.state_dict().items()}
    whole = tmp_path / 'whole.pth'
    torch.save(dict(state_dict=state, meta=dict(dataset_meta=dict(classes=list('abcd')))),
               whole)
    loaded = load_model(CLS, str(whole))
    assert torch.equal(loaded.model.head.fc.weight, state['head.fc.weight'])
    assert loaded.classes == tuple('abcd') and 'whole.pth' in loaded.weights
    backbone = tmp_path / 'backbone.pth'
    torch.save({k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')},
               backbone)
    loaded = load_model(CLS, str(backbone))
    assert torch.equal(loaded.model.backbone.patch_embed.proj.weight,
                       state['backbone.patch_embed.proj.weight'])
    assert 'heads random' in loaded.weights


def test_demo_action_reuses_the_model_and_reports_problems(tmp_path):
    import cv2

    from mmcoc.demo.app import RANDOM, ModelCache, show_clusters
    image = tmp_path / 'scene.png'
    cv2.imwrite(str(image), (np.random.default_rng(0).random((90, 120, 3)) * 255).astype(
        np.uint8))
    cache = ModelCache()
    overlay, scores, drawing, message = show_clusters(cache, str(image), CLS, RANDOM, 1, 2, 0,
                                                      0.5, 128)
    assert overlay.shape[1] == 640 and len(scores) == 4 and drawing is None
    assert 'stage 1 block 2 head 0' in message and 'random init' in message
    show_clusters(cache, str(image), CLS, RANDOM, 3, 1, 7, 0.3, 128)
    assert cache.loads == 1  # kept across requests
    _, _, _, message = show_clusters(cache, str(image), CLS, RANDOM, 3, 2, 0, 0.5, 128)
    assert 'no clustering layer at stage 3 block 2' in message
    bad = tmp_path / 'bad.jpg'
    bad.write_bytes(b'\x00' * 100)
    assert 'cannot be used' in show_clusters(cache, str(bad), CLS, RANDOM, 0, 0, 0, 0.5, 128)[3]
    assert 'Upload an image' in show_clusters(cache, None, CLS, RANDOM, 0, 0, 0, 0.5, 128)[3]


def test_demo_says_what_went_wrong_in_one_line_without_server_paths(tmp_path):
    import cv2

    from mmcoc.demo.app import RANDOM, ModelCache, show_clusters
    cache = ModelCache(configs={'demo/cls.py': CLS}, checkpoints={
        'broken.pth': str(tmp_path / 'broken.pth'), 'other.pth': str(tmp_path / 'other.pth')})
    (tmp_path / 'broken.pth').write_bytes(b'PK\x03\x04 cut short')
    other = ContextCluster('small').state_dict()  # a backbone of another variant
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in other.items()}},
               tmp_path / 'other.pth')
    scene = tmp_path / 'scene.png'
    cv2.imwrite(str(scene), np.full((90, 120, 3), 128, np.uint8))
    for image, checkpoint, expected in [
            ((1, 4000), RANDOM, 'more than 32 times'),
            (None, 'broken.pth', 'truncated or not a PyTorch checkpoint'),
            (None, 'other.pth', "does not fit this ImageClassifier: 'backbone."),
            (None, '/etc/passwd', 'choose a config and a checkpoint from the lists')]:
        path = scene
        if image is not None:
            path = tmp_path / f'{image[0]}x{image[1]}.png'
            cv2.imwrite(str(path), np.full((*image, 3), 200, np.uint8))
        overlay, scores, drawing, message = show_clusters(
            cache, str(path), 'demo/cls.py', checkpoint, 0, 0, 0, 0.5, 128)
        assert overlay is None and expected in message, message
        assert '\n' not in message and str(tmp_path) not in message, message
    one_pixel = tmp_path / 'one.png'
    cv2.imwrite(str(one_pixel), np.full((1, 1, 3), 200, np.uint8))
    overlay, scores, _, message = show_clusters(cache, str(one_pixel), 'demo/cls.py', RANDOM,
                                                0, 0, 0, 0.5, 128)
    assert overlay is not None and len(scores) == 4, message  # 1x1 works: scaled up


def test_demo_offers_only_configs_it_can_serve():
    from mmcoc.demo.app import find_configs
    configs = find_configs('configs')
    assert 'configs/demo/coc_tiny_plain_cls_demo.py' in configs
    assert not any('deepcluster_' in c for c in configs)  # pre-training: no test pipeline
    assert 'configs/fec/fec_small_fpn_ade20k.py' in configs


def test_fec_segmentation_at_random_init_predicts_with_the_dataset_classes():
    loaded = load_model('configs/fec/fec_small_fpn_ade20k.py')
    assert len(loaded.classes) == 150  # ADE20K's, from the config's dataset class
    drawing = predict(loaded, np.full((64, 80, 3), 90, np.uint8)).drawing
    assert drawing.shape == (64, 80, 3)


ANY_ORDER = '''
import numpy as np
from mmdet.apis import DetInferencer
from mmcoc.apis import load_model, predict
image = np.random.default_rng(0).integers(0, 255, (72, 96, 3), dtype=np.uint8)
# an upstream inferencer first: it sets the default scope to mmdet for the whole process
DetInferencer(model='configs/demo/coc_tiny_maskrcnn_demo.py', weights=None, device='cpu')(
    image[..., ::-1].copy(), return_vis=False)
classifier = load_model('configs/demo/coc_tiny_plain_cls_demo.py')
segmentor = load_model('configs/demo/coc_tiny_fpn_demo.py')
detector = load_model('configs/demo/coc_tiny_maskrcnn_demo.py')
for loaded in (classifier, segmentor, detector, classifier, segmentor):
    out = predict(loaded, image)
    assert out.scores or out.drawing is not None, loaded.task
print('ok')
'''


@pytest.mark.slow
def test_the_helpers_work_in_any_order_of_mmdet_mmseg_mmpretrain_in_one_process():
    import subprocess
    import sys
    result = subprocess.run([sys.executable, '-c', ANY_ORDER], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0 and result.stdout.strip().endswith('ok'), result.stderr[-3000:]
