"""Context-Cluster weights in the layouts each toolbox expects.

The checkpoint is taken apart by ``split_checkpoint``, as the backbone's own loader
(``checkpoint_filter_fn``) does; here the parts are written ahead of time, with the prefixes of
the model that will load them.
"""
from typing import Dict, List, NamedTuple, Tuple

from .backbones.context_cluster import split_checkpoint

# auto: a whole detector/segmentor stays whole; classification weights become mmpretrain's.
LAYOUTS = ('auto', 'mmpretrain', 'whole', 'timm', 'backbone')
_DENSE_PREFIXES = ('neck.', 'decode_head.', 'auxiliary_head.', 'rpn_head.', 'roi_head.',
                   'bbox_head.', 'mask_head.')


class ConversionReport(NamedTuple):
    layout: str
    source_tensors: int
    renamed: List[Tuple[str, str]]  # (source key, written key) whose name changed
    reshaped: List[Tuple[str, tuple, tuple]]  # (written key, source shape, written shape)
    kept: List[str]  # non-backbone tensors written unchanged (neck, heads)
    dropped: List[str]  # source tensors the layout has no place for

    def summary(self) -> str:
        return (f'layout {self.layout}: {self.source_tensors} source tensors, '
                f'{len(self.renamed)} renamed, {len(self.reshaped)} reshaped, '
                f'{len(self.kept)} neck/head tensors kept, {len(self.dropped)} dropped')


def convert_checkpoint(checkpoint: Dict, layout: str = 'auto') -> Tuple[Dict, ConversionReport]:
    """Map a Context-Cluster checkpoint of any released layout onto ``layout``.

    Sources: official classification releases (timm layout, ``norm``/``head``), official
    detection/segmentation releases (a whole mmdet/mmseg model, conv-shaped MLPs), mmcoc or
    mmpretrain checkpoints. Layouts: ``mmpretrain`` (``backbone.*`` + ``head.fc.*``, for an
    ``ImageClassifier``), ``whole`` (``backbone.*`` mapped, neck and heads unchanged, for
    mmdet/mmseg), ``timm`` (``coc_*`` models: bare backbone keys + ``head.*``), ``backbone``
    (bare backbone keys, for ``init_cfg=dict(type='Pretrained')``).
    """
    if layout not in LAYOUTS:
        raise ValueError(f'unknown layout {layout!r}; choose one of {", ".join(LAYOUTS)}')
    parts = split_checkpoint(checkpoint)
    if layout == 'auto':
        dense = any(k.startswith(_DENSE_PREFIXES) for k in parts.others)
        layout = 'whole' if dense else 'mmpretrain'
    prefix, head_prefix = {'mmpretrain': ('backbone.', 'head.fc.'),
                           'whole': ('backbone.', 'head.fc.'),
                           'timm': ('', 'head.'),
                           'backbone': ('', None)}[layout]
    out = {prefix + k: v for k, v in parts.backbone.items()}
    dropped = []
    if head_prefix is None:
        dropped += ['head.' + k for k in parts.head]
    else:
        out.update({head_prefix + k: v for k, v in parts.head.items()})
    if layout == 'whole':
        out.update(parts.others)
        kept = list(parts.others)
    else:
        kept, dropped = [], dropped + list(parts.others)
    renamed = [(old, prefix + new) for old, new in parts.renamed]
    reshaped = [(prefix + k, a, b) for k, a, b in parts.reshaped]
    source_tensors = len(parts.backbone) + len(parts.head) + len(parts.others)
    return out, ConversionReport(layout, source_tensors, renamed, reshaped, kept, dropped)
