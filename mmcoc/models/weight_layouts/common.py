"""What every family's checkpoint layout shares: the parts a family's ``split_checkpoint``
takes a checkpoint apart into (its tensors come from ``mmcoc.utils.unwrap_state_dict``)."""
from typing import Dict, List, NamedTuple, Optional, Tuple

import torch


class CheckpointParts(NamedTuple):
    """A checkpoint taken apart by a backbone family's ``split_checkpoint``: the backbone under
    mmcoc's names and shapes, the classifier under the timm model's names, everything else (a
    detector's or segmentor's neck and heads), what was changed, and the source tensors no
    mmcoc model has a place for. Context-Cluster checkpoints also say which
    ``cluster_normalizer`` trained them where their layout tells (and the evidence)."""
    backbone: Dict[str, torch.Tensor]
    classifier: Dict[str, torch.Tensor]
    others: Dict[str, torch.Tensor]
    renamed: List[Tuple[str, str]]  # (source key, mmcoc backbone key)
    reshaped: List[Tuple[str, tuple, tuple]]  # (mmcoc key, source shape, mmcoc shape)
    dropped: List[str]  # source keys
    trained_normalizer: Optional[str] = None
    evidence: str = ''
