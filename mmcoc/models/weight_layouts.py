"""Context-Cluster weights in the layouts each toolbox expects.

The key mapping is ``map_backbone_key``, the one the backbone's own loader
(``checkpoint_filter_fn``) applies; here it is applied once, ahead of time, and the result is
written with the prefixes of the model that will load it.
"""
from typing import Dict, List, NamedTuple, Tuple

from .backbones.context_cluster import map_backbone_key, unwrap_state_dict

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
    source = unwrap_state_dict(checkpoint)
    prefixed = any(k.startswith('backbone.') for k in source)
    backbone, head, others = {}, {}, {}
    renamed, reshaped = [], []
    for key, value in source.items():
        if prefixed and not key.startswith('backbone.'):
            if key.startswith('head.fc.'):
                head[key[len('head.fc.'):]] = value
            else:
                others[key] = value
            continue
        bare = key[len('backbone.'):] if prefixed else key
        if bare.startswith('head.'):  # a timm-layout classifier
            head[bare[len('head.'):]] = value
            continue
        new_key, new_value = map_backbone_key(bare, value)
        backbone[new_key] = new_value
        if new_key != bare:
            renamed.append((key, new_key))
        if new_value.shape != value.shape:
            reshaped.append((new_key, tuple(value.shape), tuple(new_value.shape)))
    if layout == 'auto':
        layout = 'whole' if any(k.startswith(_DENSE_PREFIXES) for k in others) else 'mmpretrain'
    prefix, head_prefix = {'mmpretrain': ('backbone.', 'head.fc.'),
                           'whole': ('backbone.', 'head.fc.'),
                           'timm': ('', 'head.'),
                           'backbone': ('', None)}[layout]
    out = {prefix + k: v for k, v in backbone.items()}
    dropped = []
    if head_prefix is None:
        dropped += ['head.' + k for k in head]
    else:
        out.update({head_prefix + k: v for k, v in head.items()})
    if layout == 'whole':
        out.update(others)
        kept = list(others)
    else:
        kept, dropped = [], dropped + list(others)
    renamed = [(old, prefix + new) for old, new in renamed]
    reshaped = [(prefix + k, a, b) for k, a, b in reshaped]
    return out, ConversionReport(layout, len(source), renamed, reshaped, kept, dropped)
