"""Context-Cluster and SecViT weights in the layouts each toolbox expects.

The checkpoint is taken apart by its family's ``split_checkpoint``, as the backbone's own loader
(``checkpoint_filter_fn``) does; here the parts are written ahead of time, with the prefixes of
the model that will load them.
"""
import re
from typing import Dict, List, NamedTuple, Optional, Tuple

from mmcoc.utils.checkpoint import unwrap_state_dict

from . import context_cluster, secvit

# auto: a whole detector/segmentor stays whole; classification weights become mmpretrain's.
LAYOUTS = ('auto', 'mmpretrain', 'whole', 'timm', 'backbone')
_DENSE_PREFIXES = ('neck.', 'decode_head.', 'auxiliary_head.', 'rpn_head.', 'roi_head.',
                   'bbox_head.', 'mask_head.')
# family -> (split_checkpoint, the timm classifier's names -> an mmpretrain ImageClassifier's)
_FAMILIES = {
    'ContextCluster': (context_cluster.split_checkpoint, {'head.': 'head.fc.'}),
    'SecViT': (secvit.split_checkpoint,
               {'proj.': 'neck.proj.', 'norm.': 'neck.norm.', 'head.': 'head.fc.'}),
}
# SecViT's blocks live under layers.{i}.blocks, Context-Cluster's (and FEC's) under
# stages.{i}.blocks (mmcoc) or network.{i} (the official releases)
_SECVIT_KEY = re.compile(r'^(backbone\.)?layers\.\d+\.blocks\.')


class ConversionReport(NamedTuple):
    family: str  # 'ContextCluster' (FEC included) or 'SecViT'
    layout: str
    source_tensors: int
    renamed: List[Tuple[str, str]]  # (source key, written key) whose name changed
    reshaped: List[Tuple[str, tuple, tuple]]  # (written key, source shape, written shape)
    kept: List[str]  # non-backbone tensors written unchanged (neck, heads)
    dropped: List[str]  # source tensors the layout has no place for
    trained_normalizer: Optional[str]  # Context-Cluster: the normaliser the layout tells
    evidence: str

    def summary(self) -> str:
        return (f'{self.family} weights, layout {self.layout}: {self.source_tensors} source '
                f'tensors, {len(self.renamed)} renamed, {len(self.reshaped)} reshaped, '
                f'{len(self.kept)} neck/head tensors kept, {len(self.dropped)} dropped')


def checkpoint_family(checkpoint: Dict) -> str:
    """``'SecViT'`` or ``'ContextCluster'`` (FEC included), from the key names."""
    source = unwrap_state_dict(checkpoint)
    return 'SecViT' if any(_SECVIT_KEY.match(k) for k in source) else 'ContextCluster'


def convert_checkpoint(checkpoint: Dict, layout: str = 'auto') -> Tuple[Dict, ConversionReport]:
    """Map a Context-Cluster, FEC or SecViT checkpoint of any released layout onto ``layout``.

    Sources: official classification releases (timm layout, ``norm``/``head``; SecViT's
    DeiT-style ``model`` dict, its plain weights), official detection/segmentation releases (a
    whole mmdet/mmseg model, conv-shaped MLPs), mmcoc or mmpretrain checkpoints. Layouts:
    ``mmpretrain`` (``backbone.*`` + the classifier of an ``ImageClassifier``: ``head.fc.*``,
    SecViT's ``neck.proj/norm.*``), ``whole`` (``backbone.*`` mapped, neck and heads unchanged,
    for mmdet/mmseg), ``timm`` (``coc_*``/``fec_*``/``secvit_*`` models: bare backbone keys and
    classifier), ``backbone`` (bare backbone keys, for ``init_cfg=dict(type='Pretrained')``).
    """
    if layout not in LAYOUTS:
        raise ValueError(f'unknown layout {layout!r}; choose one of {", ".join(LAYOUTS)}')
    family = checkpoint_family(checkpoint)
    split, mmpretrain_names = _FAMILIES[family]
    parts = split(checkpoint)
    if layout == 'auto':
        dense = any(k.startswith(_DENSE_PREFIXES) for k in parts.others)
        layout = 'whole' if dense else 'mmpretrain'
    prefix = '' if layout in ('timm', 'backbone') else 'backbone.'
    out = {prefix + k: v for k, v in parts.backbone.items()}
    dropped = list(parts.dropped)
    if layout == 'backbone':
        dropped += list(parts.classifier)
    elif layout == 'timm':
        out.update(parts.classifier)
    else:
        out.update({_rename(k, mmpretrain_names): v for k, v in parts.classifier.items()})
    if layout == 'whole':
        out.update(parts.others)
        kept = list(parts.others)
    else:
        kept, dropped = [], dropped + list(parts.others)
    renamed = [(old, prefix + new) for old, new in parts.renamed]
    reshaped = [(prefix + k, a, b) for k, a, b in parts.reshaped]
    source_tensors = (len(parts.backbone) + len(parts.classifier) + len(parts.others)
                      + len(parts.dropped))
    return out, ConversionReport(family, layout, source_tensors, renamed, reshaped, kept,
                                 dropped, parts.trained_normalizer, parts.evidence)


def _rename(key: str, names: Dict[str, str]) -> str:
    return next((new + key[len(old):] for old, new in names.items() if key.startswith(old)),
                key)
