"""What every family's checkpoint layout shares: the tensors of a checkpoint, unwrapped, and
the parts a family's ``split_checkpoint`` takes it apart into."""
from typing import Dict, List, NamedTuple, Optional, Tuple

import torch


def unwrap_state_dict(checkpoint: Dict) -> Dict:
    """The tensors of a checkpoint: under ``state_dict``/``model`` if wrapped, no ``module.``."""
    for key in ('state_dict', 'model'):
        if isinstance(checkpoint, dict) and isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
            break
    return {k[len('module.'):] if k.startswith('module.') else k: v
            for k, v in checkpoint.items()}


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
