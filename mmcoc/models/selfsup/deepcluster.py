"""DeepCluster (Caron et al., "Deep Clustering for Unsupervised Learning of Visual Features",
ECCV'18) as an mmpretrain self-supervised algorithm.

Once per epoch ``mmcoc.DeepClusterHook`` clusters the features of the whole training set with
k-means and hands the assignments to this model (:meth:`DeepCluster.set_pseudo_labels`); the
model then learns to predict them: backbone, neck (global average pooling), a linear head
trained with cross-entropy against the pseudo-label of each sample, looked up by the sample's
dataset index. The head's classes change meaning at every re-clustering, so the hook
re-initialises it (:meth:`DeepCluster.reset_head`). The optional Sobel input layer of the paper
is the data preprocessor ``mmcoc.SobelDataPreprocessor``.
"""
from typing import List, Optional, Union

import torch
import torch.nn as nn
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.structures import DataSample

from ...registry import MODELS


@MODELS.register_module()
class DeepCluster(BaseSelfSupervisor):
    """Backbone + neck + linear head trained on k-means pseudo-labels.

    Args:
        backbone (dict): any mmpretrain or mmcoc backbone (``type='mmcoc.ContextCluster'``,
            ``type='ResNet'``, ...); with the Sobel preprocessor, ``in_channels=2``.
        neck (dict): pools the backbone's last map to a vector, e.g.
            ``dict(type='GlobalAveragePooling')``; its output is what k-means clusters.
        head (dict): a classification head whose ``num_classes`` is the number of clusters k,
            e.g. ``dict(type='LinearClsHead', num_classes=10000, in_channels=2048)``.
        head_init_std (float): std of the normal the head's weights are redrawn from after
            each re-clustering (biases are zeroed); the reference uses 0.01.
        data_preprocessor (dict): default mmpretrain's ``ClsDataPreprocessor``; give
            ``type='mmcoc.SobelDataPreprocessor'`` for the paper's Sobel input.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 head_init_std: float = 0.01,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        if isinstance(data_preprocessor, dict) or data_preprocessor is None:
            data_preprocessor = dict(data_preprocessor or {})
            data_preprocessor.setdefault('type', 'ClsDataPreprocessor')
        super().__init__(backbone=backbone, neck=neck, head=head, pretrained=pretrained,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.head_init_std = head_init_std
        self.num_clusters = getattr(self.head, 'num_classes', None)
        if not isinstance(self.num_clusters, int) or self.num_clusters < 2:
            raise ValueError('DeepCluster needs a classification head with num_classes = the '
                             f'number of clusters (>= 2); got {type(self.head).__name__} with '
                             f'num_classes={self.num_clusters!r}')
        # The dataset-wide assignment, indexed by ``sample_idx``. A plain attribute, not a
        # buffer: its size is the dataset's, known only to the hook, and DDP must not broadcast
        # it at every step (the hook gives every rank the same labels once per epoch).
        self.pseudo_labels: Optional[torch.Tensor] = None

    def extract_feat(self, inputs: torch.Tensor):
        """The neck's pooled features (a tuple, as mmpretrain's necks return)."""
        return self.neck(self.backbone(inputs))

    def set_pseudo_labels(self, labels: torch.Tensor):
        labels = torch.as_tensor(labels, dtype=torch.long).cpu()
        if labels.dim() != 1 or labels.numel() == 0:
            raise ValueError(f'pseudo-labels must be a non-empty 1-d tensor, got shape '
                             f'{tuple(labels.shape)}')
        if labels.min() < 0 or labels.max() >= self.num_clusters:
            raise ValueError(f'pseudo-labels must lie in [0, {self.num_clusters}) (the head\'s '
                             f'num_classes), got [{labels.min()}, {labels.max()}]')
        self.pseudo_labels = labels

    @torch.no_grad()
    def reset_head(self):
        """Redraw every linear layer of the head from N(0, head_init_std), biases 0."""
        linears = [m for m in self.head.modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise TypeError(f'{type(self.head).__name__} has no nn.Linear to re-initialise; '
                            'DeepCluster needs a linear classification head')
        for linear in linears:
            nn.init.normal_(linear.weight, 0., self.head_init_std)
            if linear.bias is not None:
                nn.init.zeros_(linear.bias)

    def loss(self, inputs: torch.Tensor, data_samples: List[DataSample]) -> dict:
        if self.pseudo_labels is None:
            raise RuntimeError('DeepCluster has no pseudo-labels yet: train it with '
                               "custom_hooks=[dict(type='mmcoc.DeepClusterHook', ...)], which "
                               'clusters the dataset at the start of each epoch')
        indices = torch.tensor([sample.sample_idx for sample in data_samples])
        if indices.max() >= len(self.pseudo_labels):
            raise IndexError(f'sample index {int(indices.max())} is beyond the '
                             f'{len(self.pseudo_labels)} pseudo-labels: the training set is '
                             'not the set the hook clustered')
        labels = self.pseudo_labels[indices].to(inputs.device)
        targets = [DataSample().set_gt_label(label) for label in labels.split(1)]
        return self.head.loss(self.extract_feat(inputs), targets)
