"""Image loading that names a broken file instead of training on it."""
import io
import logging
import warnings
from typing import Optional

import mmcv
from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile
from mmengine import fileio
from mmengine.logging import print_log
from PIL import Image

from ..registry import TRANSFORMS

ON_ERROR = ('raise', 'skip')
# PIL's own warning limit (Image.MAX_IMAGE_PIXELS): 89 megapixels, 0.27 GB decoded as 8-bit BGR
MAX_PIXELS = 89_478_485


def image_bytes_problem(data: bytes) -> Optional[str]:
    """What is wrong with an encoded image that decoders may still half-read, or None.

    A cut-off JPEG or PNG decodes with OpenCV (the missing rows come out grey, with at most a
    libjpeg message on stderr); its end marker (JPEG ``FFD9``, PNG ``IEND``) is missing. The
    marker is looked for near the end, since some writers append bytes after it.
    """
    if not data:
        return 'is empty'
    tail = data[-4096:]
    if data[:2] == b'\xff\xd8' and b'\xff\xd9' not in tail:
        return 'is truncated (its JPEG end marker is missing)'
    if data[:8] == b'\x89PNG\r\n\x1a\n' and b'IEND' not in tail:
        return 'is truncated (its PNG end chunk is missing)'
    return None


def image_header_problem(data: bytes, max_pixels: Optional[int] = MAX_PIXELS) -> Optional[str]:
    """What an encoded image's header says is wrong before it is decoded, or None.

    A decompression bomb is a small file that decodes to gigabytes: a header claiming more
    than ``max_pixels`` pixels (OpenCV decodes up to 2**30 of them), or a PNG text chunk that
    inflates past PIL's limit. The header is read by PIL, which decodes nothing for this;
    formats PIL does not know are left to the decoder.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
    except Image.DecompressionBombError as err:
        return f'is too large to decode ({str(err).rstrip(".")})'
    except ValueError as err:  # PIL's PNG text-chunk limits
        return (f'is refused by the image reader\'s safety limits ({str(err).rstrip(".")}): a '
                'decompression bomb or a damaged file')
    except Exception:  # noqa: BLE001  (a format PIL does not know: the decoder decides)
        return None
    if max_pixels is not None and width * height > max_pixels:
        return (f'is {width}x{height} pixels, more than the {max_pixels / 1e6:.0f} megapixels '
                'accepted (max_pixels): a decompression bomb, or an image to downscale first')
    return None


@TRANSFORMS.register_module()
class LoadImageFromFile(MMCVLoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` that refuses empty, truncated and undecodable files.

    Gray, RGBA and 16-bit files load as mmcv loads them (``color_type='color'``: 8-bit BGR).
    Decompression bombs are refused from their header, before decoding
    (``image_header_problem``).

    Args:
        on_error (str): ``'raise'`` (default) stops with an error naming the file;
            ``'skip'`` logs a warning naming it and drops the sample: in training mmengine's
            dataset then draws another one; evaluation needs every image and still stops.
        max_pixels (int, optional): larger images are refused before decoding (default
            ``MAX_PIXELS``, PIL's warning limit of 89 megapixels); None lifts the limit.
        **kwargs: as mmcv's ``LoadImageFromFile``.
    """

    def __init__(self, on_error: str = 'raise', max_pixels: Optional[int] = MAX_PIXELS,
                 **kwargs):
        if on_error not in ON_ERROR:
            raise ValueError(f'on_error must be one of {ON_ERROR}, got {on_error!r}')
        if kwargs.get('file_client_args') is not None:
            raise ValueError('mmcoc.LoadImageFromFile takes backend_args, not the deprecated '
                             'file_client_args')
        super().__init__(**kwargs)
        self.on_error, self.max_pixels = on_error, max_pixels

    def _refuse(self, path: str, problem: str):
        if self.on_error == 'skip':
            print_log(f'skipping image {path}: it {problem}', logger='current',
                      level=logging.WARNING)
            return None
        raise OSError(f'image {path} {problem}. Replace or remove the file (and its '
                      'annotations), or set on_error=\'skip\' in the pipeline\'s '
                      'LoadImageFromFile to skip such images in training with a warning.')

    def transform(self, results: dict) -> Optional[dict]:
        path = results['img_path']
        try:
            data = fileio.get(path, backend_args=self.backend_args)
        except OSError as err:
            return self._refuse(path, f'cannot be read ({err})')
        problem = image_bytes_problem(data) or image_header_problem(data, self.max_pixels)
        if problem:
            return self._refuse(path, problem)
        try:
            img = mmcv.imfrombytes(data, flag=self.color_type, backend=self.imdecode_backend)
        except Exception:  # noqa: BLE001  (decoders raise anything; None from OpenCV)
            img = None
        if img is None:
            return self._refuse(path, 'cannot be decoded as an image')
        if self.to_float32:
            img = img.astype('float32')
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results
