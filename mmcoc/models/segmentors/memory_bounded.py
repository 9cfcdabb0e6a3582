"""``mmcoc.MemoryBoundedEncoderDecoder``: mmseg's ``EncoderDecoder`` whose prediction on a
large photo fits in a laptop's memory.

mmseg's ``postprocess_result`` resizes every class's logits to the original image before the
argmax: ``C x H x W`` float32, 7.2 GB for ADE20K's 150 classes on a 4000x3000 photo (86 GB on
12000x12000). Here the logits are resized a few classes at a time, keeping a running maximum
and its class per pixel, so the memory is one chunk plus the two per-pixel maps. Bilinear
resizing treats each class on its own and the running maximum keeps the first class on ties,
as ``argmax`` does, so the labels are exactly mmseg's.

``seg_logits`` of a prediction hold the logits at the original size when they take at most
``max_logits_bytes``; above that, at the model's input size (with the padding removed and the
flip undone), which is what a 12-megapixel ``seg_logits`` would be worth anyway.
"""
import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.structures import PixelData
from mmseg.models.segmentors import EncoderDecoder

from mmcoc.registry import MODELS
from mmcoc.utils.weights_fit import check_fit, is_checked_load, under_prefix


@MODELS.register_module()
class MemoryBoundedEncoderDecoder(EncoderDecoder):
    """``EncoderDecoder`` with post-processing in bounded memory.

    Args:
        max_logits_bytes (int): the most memory the resized logits of one image may take at
            once (one chunk of classes); also the largest ``seg_logits`` kept at the original
            size. Default: 256 MiB.
        **kwargs: those of mmseg's ``EncoderDecoder``.
    """

    def __init__(self, *args, max_logits_bytes: int = 256 * 2**20, **kwargs):
        super().__init__(*args, **kwargs)
        if max_logits_bytes <= 0:
            raise ValueError(f'max_logits_bytes must be positive, got {max_logits_bytes}')
        self.max_logits_bytes = max_logits_bytes

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        # The whole model sees the whole checkpoint (init_model, inference APIs): the fit policy
        # stops a backbone's bare state dict (an official release given to init_model, which
        # would otherwise leave every layer random with a warning, then fail on the missing
        # 'meta' inside mmseg) and a checkpoint without the neck or heads; the backbone checks
        # its own part when torch reaches it.
        if not is_checked_load():
            check_fit('given to init_model', under_prefix(state_dict, prefix), self,
                      ignore=('backbone.',), subject=f'the checkpoint does not fit this '
                                                     f'{type(self).__name__}')
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def postprocess_result(self, seg_logits, data_samples=None):
        if data_samples is None:  # mmseg keeps the logits at the model's size here
            return super().postprocess_result(seg_logits, data_samples)
        for i, sample in enumerate(data_samples):
            meta = sample.metainfo
            logits = self._unpad_unflip(seg_logits[i:i + 1], meta, seg_logits.shape[2:])
            size = tuple(meta['ori_shape'][:2])
            full_bytes = logits.shape[1] * size[0] * size[1] * logits.element_size()
            if full_bytes <= self.max_logits_bytes:
                # small enough to be mmseg's own result, seg_logits included
                resized = self._resize(logits, size).squeeze(0)
                pred = self._labels(resized)
                if logits.shape[1] == 1:
                    resized = resized.sigmoid()
            else:
                pred = self._chunked_labels(logits, size)
                resized = logits.squeeze(0).sigmoid() if logits.shape[1] == 1 \
                    else logits.squeeze(0)
            sample.set_data(dict(seg_logits=PixelData(data=resized),
                                 pred_sem_seg=PixelData(data=pred)))
        return data_samples

    @staticmethod
    def _unpad_unflip(logits, meta, shape):
        # as mmseg's postprocess_result
        left, right, top, bottom = meta.get('img_padding_size',
                                            meta.get('padding_size', [0] * 4))
        height, width = shape
        logits = logits[:, :, top:height - bottom, left:width - right]
        if meta.get('flip'):
            direction = meta.get('flip_direction')
            if direction not in ('horizontal', 'vertical'):
                raise ValueError(f'unknown flip_direction {direction!r} in the image meta')
            logits = logits.flip(dims=(3,) if direction == 'horizontal' else (2,))
        return logits

    def _resize(self, logits, size):
        return F.interpolate(logits, size=size, mode='bilinear',
                             align_corners=self.align_corners)

    def _labels(self, resized):
        if resized.shape[0] > 1:
            return resized.argmax(dim=0, keepdim=True)
        return (resized.sigmoid() > self.decode_head.threshold).to(resized)

    def _chunked_labels(self, logits, size):
        """The labels of ``logits`` resized to ``size``, a chunk of classes at a time."""
        classes = logits.shape[1]
        per_class = size[0] * size[1] * logits.element_size()
        if classes == 1:
            # one class: a threshold per pixel, done a band of rows at a time is not exact
            # for bilinear resizing, so resize it whole (one class is one chunk)
            return self._labels(self._resize(logits, size).squeeze(0))
        step = max(1, self.max_logits_bytes // per_class)
        best = best_class = None
        for start in range(0, classes, step):
            chunk = self._resize(logits[:, start:start + step], size).squeeze(0)
            value, index = chunk.max(dim=0)
            del chunk
            index += start
            if best is None:
                best, best_class = value, index
            else:
                # strictly greater: on a tie the earlier class stays, as argmax keeps it
                better = value > best
                best = torch.where(better, value, best)
                best_class = torch.where(better, index, best_class)
                del better
            del value, index
        if step == 1 and per_class > self.max_logits_bytes:
            print_log(f'one class of the logits resized to {size[1]}x{size[0]} takes '
                      f'{per_class / 2**20:.0f} MiB, over max_logits_bytes', logger='current')
        return best_class.unsqueeze(0)


__all__ = ['MemoryBoundedEncoderDecoder']
