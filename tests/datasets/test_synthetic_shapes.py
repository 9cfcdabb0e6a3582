import json
import sys

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from mmcoc.datasets import (
    CLASSES,
    SEMANTIC_CLASSES,
    coco_files,
    render_scene,
    write_ade,
    write_coco,
    write_imagenet,
)
from tests.tools.tool_runner import run

TRAIN_ANN = 'annotations/instances_train2017.json'


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    a = write_coco(tmp_path / 'a', dict(train=3, val=1), seed=3)
    b = write_coco(tmp_path / 'b', dict(train=3, val=1), seed=3)
    c = write_coco(tmp_path / 'c', dict(train=3, val=1), seed=4)
    assert (a / TRAIN_ANN).read_text() == (b / TRAIN_ANN).read_text()
    image = 'train2017/0002.png'
    assert (a / image).read_bytes() == (b / image).read_bytes()
    assert (a / TRAIN_ANN).read_text() != (c / TRAIN_ANN).read_text()
    # the splits are drawn from streams of their own
    assert (a / 'train2017' / '0000.png').read_bytes() != (a / 'val2017' / '0000.png').read_bytes()


def test_annotations_are_the_visible_parts_of_the_shapes(tmp_path):
    root = write_coco(tmp_path, dict(train=12), size_range=(224, 288))
    coco = COCO(str(root / TRAIN_ANN))
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(CLASSES)
    sizes, labels = set(), set()
    for img_id in coco.getImgIds():
        info = coco.loadImgs(img_id)[0]
        assert 224 <= info['height'] <= 288 and 224 <= info['width'] <= 288
        sizes.add((info['height'] % 32, info['width'] % 32))
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id))
        assert len(anns) >= 1
        cover = np.zeros((info['height'], info['width']), np.int32)
        for ann in anns:
            mask = coco.annToMask(ann)
            labels.add(ann['category_id'])
            ys, xs = np.nonzero(mask)
            assert ann['bbox'] == [xs.min(), ys.min(), xs.max() - xs.min() + 1,
                                   ys.max() - ys.min() + 1]
            assert ann['area'] == mask.sum()
            cover += mask
        assert cover.max() == 1, 'an occluded shape must not keep the pixels hiding it'
    assert len(sizes) > 1 and labels == {1, 2, 3, 4}


def test_scenes_follow_the_image_size_and_keep_shapes_visible():
    rng = np.random.default_rng(0)
    for h, w in [(70, 90), (256, 256), (300, 180)]:
        scene = render_scene(rng, h, w)
        assert scene.image.shape == (h, w, 3) and scene.image.dtype == np.uint8
        for inst in scene.instances:
            assert inst['mask'].shape == (h, w) and inst['mask'].sum() >= 8
            assert 0 <= inst['label'] < len(CLASSES)


def test_semantic_labels_follow_the_instances_and_mark_clutter():
    scene = render_scene(np.random.default_rng(5), 200, 240)
    labels = scene.semantic_labels()
    assert labels.shape == (200, 240) and labels.dtype == np.uint8
    for inst in scene.instances:
        assert (labels[inst['mask'].astype(bool)] == 2 + inst['label']).all()
    shapes = np.zeros((200, 240), bool)
    for inst in scene.instances:
        shapes |= inst['mask'].astype(bool)
    # clutter (0) is what is left of the lines and specks outside the shapes; the rest is 1
    assert (labels[~shapes] <= 1).all() and ((labels == 0) == (scene.clutter == 1)).all()
    assert 0 < (labels == 0).sum() < (labels == 1).sum()
    assert not (scene.clutter.astype(bool) & shapes).any()


def test_ade_set_has_the_coco_sets_scenes_in_ades_layout(tmp_path):
    ade = write_ade(tmp_path / 'ade', dict(training=3, validation=2), seed=1)
    coco = write_coco(tmp_path / 'coco', dict(train=3, val=2), seed=1)
    assert len(list((ade / 'images' / 'training').glob('*.jpg'))) == 3
    assert len(list((ade / 'annotations' / 'validation').glob('*.png'))) == 2
    labels = cv2.imread(str(ade / 'annotations' / 'training' / '0001.png'), cv2.IMREAD_UNCHANGED)
    image = cv2.imread(str(ade / 'images' / 'training' / '0001.jpg'))
    same_scene = cv2.imread(str(coco / 'train2017' / '0001.png'))
    assert labels.ndim == 2 and labels.shape == image.shape[:2] == same_scene.shape[:2]
    assert labels.max() < 1 + len(SEMANTIC_CLASSES)
    # the same scene, up to JPEG's loss (which is large on pixel noise: compare blurred images)
    def blur(img):
        return cv2.GaussianBlur(img, (9, 9), 0).astype(int)
    assert np.abs(blur(image) - blur(same_scene)).mean() < 3
    # every shape pixel of the COCO annotation carries its class in the label map
    anns = json.loads((coco / TRAIN_ANN).read_text())['annotations']
    assert {a['category_id'] + 1 for a in anns if a['image_id'] == 2} <= set(np.unique(labels))


def run_tool(*args):
    return run([sys.executable, 'tools/generate_demo_data.py', *args], check=False)


@pytest.mark.slow
def test_tool_writes_once_and_refuses_foreign_folders(tmp_path):
    out = tmp_path / 'demo'
    first = run_tool('--out', str(out), '--train', '2', '--val', '1')
    assert first.returncode == 0, first.stderr
    assert len(json.loads((out / TRAIN_ANN).read_text())['images']) == 2
    again = run_tool('--out', str(out), '--train', '2', '--val', '1')
    assert 'already' in again.stdout
    resized = run_tool('--out', str(out), '--train', '3', '--val', '1')
    assert resized.returncode == 0
    assert len(json.loads((out / TRAIN_ANN).read_text())['images']) == 3

    foreign = tmp_path / 'mine'
    foreign.mkdir()
    (foreign / 'notes.txt').write_text('keep me')
    for force in ([], ['--force']):  # --force deletes only a folder the tool wrote
        refused = run_tool('--out', str(foreign), '--train', '2', '--val', '1', *force)
        assert refused.returncode != 0 and 'not a folder written by this tool' in refused.stderr
        assert (foreign / 'notes.txt').read_text() == 'keep me'
    forced = run_tool('--out', str(out), '--train', '2', '--val', '1', '--force')
    assert forced.returncode == 0 and (out / '.mmcoc_demo_data').is_file()


@pytest.mark.slow
def test_tool_writes_the_ade_layout(tmp_path):
    out = tmp_path / 'ade'
    result = run_tool('--format', 'ade', '--out', str(out), '--train', '2', '--val', '1')
    assert result.returncode == 0, result.stderr
    assert len(list((out / 'annotations' / 'training').glob('*.png'))) == 2
    assert len(list((out / 'images' / 'validation').glob('*.jpg'))) == 1
    # progress while it draws: each split counted up to its size
    assert result.stdout.index('training: 2/2 images') < result.stdout.index(
        'validation: 1/1 images') < result.stdout.index('wrote 2 training + 1 validation')
    # a COCO request for the same folder replaces the ADE set instead of mixing the two
    result = run_tool('--out', str(out), '--train', '2', '--val', '1')
    assert result.returncode == 0 and not (out / 'images').exists()


def test_imagenet_layout_is_balanced_and_seeded(tmp_path):
    a = write_imagenet(tmp_path / 'a', dict(train=8, val=4), size_range=(64, 80), seed=1)
    b = write_imagenet(tmp_path / 'b', dict(train=8, val=4), size_range=(64, 80), seed=1)
    for split, count in (('train', 8), ('val', 4)):
        assert sorted(p.name for p in (a / split).iterdir()) == sorted(CLASSES)
        for name in CLASSES:
            files = sorted((a / split / name).glob('*.png'))
            assert len(files) == count // len(CLASSES)
            for f in files:
                h, w = cv2.imread(str(f)).shape[:2]
                assert 64 <= h <= 80 and 64 <= w <= 80
                assert f.read_bytes() == (b / split / name / f.name).read_bytes()


def test_coco_categories_let_the_real_coco_config_read_the_set_by_its_data_root_alone(tmp_path):
    # configs/coc_small_maskrcnn_coco.py reads mmdet's COCO file names and COCO's 80 classes:
    # with --categories coco the demo set is found by its data_root, nothing else changed
    from mmdet.datasets import CocoDataset
    from mmdet.registry import DATASETS
    from mmengine.registry import init_default_scope

    from mmcoc.datasets import COCO_STAND_INS
    from mmcoc.utils.config import load_config
    from tests.helpers import ROOT
    root = write_coco(tmp_path / 'coco', dict(train=2, val=1), size_range=(64, 80),
                      categories='coco')
    shapes = write_coco(tmp_path / 'shapes', dict(train=2, val=1), size_range=(64, 80))
    coco_classes = CocoDataset.METAINFO['classes']
    cfg = load_config(str(ROOT / 'configs' / 'coc_small_maskrcnn_coco.py'))
    init_default_scope('mmdet')
    for split, count in (('train', 2), ('val', 1)):
        dataset = cfg[f'{split}_dataloader'].dataset
        dataset.update(data_root=f'{root}/', pipeline=[])
        built = DATASETS.build(dataset)
        assert len(built) == count
        assert built.get_data_info(0)['img_path'] == str(root / f'{split}2017' / '0000.png')
        # the same scene as the shapes set, each shape labelled as its COCO stand-in
        expected = json.loads((shapes / coco_files(split)[1]).read_text())
        names = {c['id']: c['name'] for c in expected['categories']}
        first = [names[a['category_id']] for a in expected['annotations'] if a['image_id'] == 1]
        labels = [inst['bbox_label'] for inst in built.get_data_info(0)['instances']]
        assert [coco_classes[label] for label in labels] == [COCO_STAND_INS[n] for n in first]
    written = json.loads((root / coco_files('val')[1]).read_text())
    assert [c['name'] for c in written['categories']] == list(coco_classes)
    assert {c['name']: c['id'] for c in written['categories']}['stop sign'] == 13  # COCO's id
    with pytest.raises(ValueError, match="'shapes' or 'coco'"):
        write_coco(tmp_path / 'bad', dict(train=1, val=1), categories='voc')


def test_categories_option_is_for_the_coco_format_only(tmp_path):
    result = run_tool('--format', 'ade', '--categories', 'coco', '--out', str(tmp_path / 'ade'))
    assert result.returncode == 2
    assert '--categories applies to --format coco only' in result.stderr
    assert not (tmp_path / 'ade').exists()
