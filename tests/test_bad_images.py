"""Hostile image files (decompression bombs, a PNG text chunk that inflates past PIL's limit,
an empty JPEG, a float TIFF holding NaN) get the one-line error of any bad image, in a training
set and in the demo's request path; a 16-bit image costs no more memory than its 8-bit twin."""
import io
import re
import struct
import tracemalloc
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

import mmcoc  # noqa: F401  (registers mmcoc.LoadImageFromFile)
from mmcoc.datasets import write_ade, write_imagenet
from mmcoc.demo.app import ModelCache, show_clusters
from mmcoc.visualization import ImageError, read_image

ROOT = Path(__file__).parents[1]
CLS_CONFIG = str(ROOT / 'configs/demo/coc_tiny_plain_cls_demo.py')
SEG_CONFIG = str(ROOT / 'configs/demo/coc_tiny_fpn_demo.py')


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack('>I', len(data)) + kind + data
            + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))


def bomb_png(width: int, height: int) -> bytes:
    """A complete, valid 1-bit PNG of zeros: a few KB that decode to width x height pixels."""
    packer = zlib.compressobj(9)
    row = b'\x00' * (1 + (width + 7) // 8)
    pixels = b''.join(packer.compress(row) for _ in range(height)) + packer.flush()
    return (b'\x89PNG\r\n\x1a\n' + _chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 1, 0,
                                                                 0, 0, 0))
            + _chunk(b'IDAT', pixels) + _chunk(b'IEND', b''))


def header_png(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height 8-bit gray pixels, with one row of data."""
    return (b'\x89PNG\r\n\x1a\n' + _chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 0,
                                                                 0, 0, 0))
            + _chunk(b'IDAT', zlib.compress(b'\x00' * (width + 1))) + _chunk(b'IEND', b''))


def text_bomb_png() -> bytes:
    """An 8x8 PNG with a zTXt chunk of 4 KB that inflates to 4 MB (PIL's limit: 1 MB)."""
    buffer = io.BytesIO()
    Image.new('RGB', (8, 8)).save(buffer, 'PNG')
    data = buffer.getvalue()
    at = data.index(b'IDAT') - 4
    text = _chunk(b'zTXt', b'comment\x00\x00' + zlib.compress(b' ' * (4 << 20), 9))
    return data[:at] + text + data[at:]


def nan_tiff() -> bytes:
    image = np.full((16, 24), 0.5, np.float32)
    image[3, 5] = np.nan
    buffer = io.BytesIO()
    Image.fromarray(image, mode='F').save(buffer, 'TIFF')
    return buffer.getvalue()


# ------------------------------------------------------------------- the demo's request path
REQUEST_CASES = {
    # 400 megapixels: PIL's DecompressionBombError at open (raised raw before)
    'bomb.png': (lambda: bomb_png(20000, 20000), r'is refused before decoding: Image size '
                 r'\(400000000 pixels\) exceeds limit .* Downscale it to at most 64 megapixels'),
    # PIL's text-chunk ValueError at open (raised raw before)
    'text_bomb.png': (text_bomb_png, r"is refused by the image reader's safety limits "
                      r'\(Decompressed data too large.*\): a decompression bomb'),
    # NaN became 0 (a black pixel) before the check saw it
    'nan.tif': (nan_tiff, r"^'.*nan\.tif' holds 1 NaN or Inf values \(of 384\), which would "
                r'turn black'),
}


@pytest.mark.parametrize('name', sorted(REQUEST_CASES))
def test_hostile_upload_gets_one_line_in_the_demo(tmp_path, name):
    make, expected = REQUEST_CASES[name]
    path = tmp_path / name
    path.write_bytes(make())
    with pytest.raises(ImageError, match=expected) as error:
        read_image(str(path))
    assert '\n' not in str(error.value) and repr(str(path)) in str(error.value)
    # the page's action answers in one line before any model is loaded
    cache = ModelCache()
    overlay, scores, drawing, message = show_clusters(cache, str(path), 'any.py', 'any.pth',
                                                      1, 0, 0, 0.5, 224)
    assert overlay is None and cache.loads == 0
    assert message.startswith('**This file cannot be used:** ') and '\n' not in message
    assert name in message and str(tmp_path) not in message


def test_nan_in_a_float_array_is_refused_before_conversion():
    image = np.random.default_rng(0).random((8, 8, 3)).astype(np.float32)
    image[1, 2, 0] = -np.inf
    with pytest.raises(ImageError, match=r'the image array holds 1 NaN or Inf values \(of 192'):
        read_image(image)


# ------------------------------------------------------------------- a training set
def train_set(tmp_path, task):
    """A tiny training set of ``task`` ('cls' or 'seg') and its demo config's dataset."""
    import importlib
    write, splits, config, scope = {
        'cls': (write_imagenet, dict(train=4), CLS_CONFIG, 'mmpretrain'),
        'seg': (write_ade, dict(training=2), SEG_CONFIG, 'mmseg')}[task]
    root = write(tmp_path / task, splits, size_range=(40, 48) if task == 'cls' else (48, 56))
    cfg = Config.fromfile(config)
    init_default_scope(scope)
    cfg.train_dataloader.dataset.data_root = str(root)
    return root, cfg.train_dataloader.dataset, importlib.import_module(f'{scope}.registry').DATASETS


def cls_train_set(tmp_path):
    return train_set(tmp_path, 'cls')


def seg_train_set(tmp_path):
    return train_set(tmp_path, 'seg')


TRAINING_CASES = {
    # 100 megapixels (PIL only warns; OpenCV decoded all of it, 300 MB, and trained on it)
    'bomb': (lambda: bomb_png(10000, 10000), r'is 10000x10000 pixels, more than the 89 '
             r'megapixels accepted \(max_pixels\): a decompression bomb'),
    # 2.5 gigapixels in the header: PIL's DecompressionBombError
    'huge_bomb': (lambda: header_png(50000, 50000),
                  r'is too large to decode \(Image size \(2500000000 pixels\) exceeds limit'),
    # OpenCV ignored the text chunk; PIL's limit is the reader's
    'text_bomb': (text_bomb_png, r"safety limits \(Decompressed data too large"),
    # mmcv's loader raised OpenCV's "(-215:Assertion failed) !buf.empty()"
    'empty': (lambda: b'', 'is empty'),
}


@pytest.mark.parametrize('case', sorted(TRAINING_CASES))
def test_hostile_file_in_the_classification_training_set_is_named(tmp_path, case):
    make, expected = TRAINING_CASES[case]
    root, dataset_cfg, datasets = cls_train_set(tmp_path)
    folder = next(p for p in sorted((root / 'train').iterdir()) if any(p.iterdir()))
    path = folder / ('zz_empty.jpg' if case == 'empty' else 'zz_bomb.png')
    path.write_bytes(make())
    dataset = datasets.build(dataset_cfg)
    index = [Path(dataset.get_data_info(i)['img_path']) for i in range(len(dataset))].index(path)
    with pytest.raises(OSError) as error:
        dataset[index]
    message = str(error.value)
    assert message.startswith(f'image {path} ') and '\n' not in message, message
    assert "set on_error='skip'" in message
    assert re.search(expected, message), message


def test_empty_jpeg_in_the_segmentation_training_set_is_named(tmp_path):
    root, dataset_cfg, datasets = seg_train_set(tmp_path)
    path = sorted((root / 'images' / 'training').glob('*.jpg'))[1]
    path.write_bytes(b'')
    dataset = datasets.build(dataset_cfg)
    index = [Path(dataset.get_data_info(i)['img_path']) for i in range(len(dataset))].index(path)
    with pytest.raises(OSError, match=f"image {path} is empty. Replace or remove the file"):
        dataset[index]


def test_oversized_images_can_be_let_through(tmp_path):
    from mmcoc.datasets import LoadImageFromFile
    path = tmp_path / 'wide.png'
    cv2.imwrite(str(path), np.zeros((20, 30, 3), np.uint8))
    with pytest.raises(OSError, match=r'is 30x20 pixels, more than the 0 megapixels'):
        LoadImageFromFile(max_pixels=100).transform(dict(img_path=str(path)))
    assert LoadImageFromFile(max_pixels=None).transform(dict(img_path=str(path)))['img'].shape \
        == (20, 30, 3)


# ------------------------------------------------------------------- memory
def traced_peak(function, *args):
    tracemalloc.start()
    try:
        result = function(*args)
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


PEAK = """
import sys
from mmcoc.visualization import read_image
def status(key):  # VmHWM, unlike ru_maxrss, is not inherited from the forking parent
    return int(next(l for l in open('/proc/self/status') if l.startswith(key)).split()[1])
read_image(sys.argv[1][:-4] + '_small.png')  # everything imported and warmed up
with open('/proc/self/clear_refs', 'w') as f:
    f.write('5')  # VmHWM := VmRSS
start = status('VmRSS')
read_image(sys.argv[1])
print(status('VmHWM') - start)
"""


def peak_rss_kb(path):
    """Peak resident memory (KB) of reading ``path`` with ``read_image``, in a fresh process."""
    import subprocess
    import sys
    cv2.imwrite(str(path)[:-4] + '_small.png', np.zeros((8, 8), np.uint16))
    result = subprocess.run([sys.executable, '-c', PEAK, str(path)], capture_output=True,
                            text=True, cwd=ROOT, env={'OMP_NUM_THREADS': '1', 'PATH': ''})
    assert result.returncode == 0, result.stderr[-2000:]
    return int(result.stdout.split()[-1])


def test_16bit_array_is_converted_without_float_copies():
    # 1080p: the conversion made float64 copies of the whole image (8 bytes a value, several
    # alive at once, 150 MB here); now the 8-bit values come out a block of rows at a time
    rgb = np.random.default_rng(0).integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    out, peak = traced_peak(read_image, rgb.astype(np.uint16) * 257)
    assert np.array_equal(out, rgb)
    assert peak < out.nbytes + (4 << 20)  # the output and one block of rows


@pytest.mark.slow
def test_16bit_file_costs_no_more_than_its_8bit_twin(tmp_path):
    # 4k gray PNGs (docs/reliability.md gives 8k figures): 16-bit took 235 MB, 8-bit 84 MB
    gray = np.random.default_rng(0).integers(0, 256, (2160, 3840), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / 'gray8.png'), gray, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    cv2.imwrite(str(tmp_path / 'gray16.png'), gray.astype(np.uint16) * 257,
                [cv2.IMWRITE_PNG_COMPRESSION, 1])
    assert np.array_equal(read_image(str(tmp_path / 'gray8.png')),
                          read_image(str(tmp_path / 'gray16.png')))
    rss8, rss16 = (peak_rss_kb(tmp_path / f'gray{bits}.png') for bits in (8, 16))
    assert rss16 <= rss8, (rss8, rss16)
