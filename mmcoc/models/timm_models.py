"""Context Clusters as timm models: ``timm.create_model('coc_small', num_classes=...)``.

Registered when ``mmcoc`` is imported. ``pretrained=True`` with
``pretrained_cfg_overlay=dict(file=PATH)`` loads a local mmcoc or official checkpoint through
``checkpoint_filter_fn`` (no hub is contacted).
"""
import torch
import torch.nn as nn
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model

from .backbones.context_cluster import NUM_STAGES, ContextCluster, checkpoint_filter_fn


class ContextClusterClassifier(ContextCluster):
    """The backbone's last stage, its norm (official ``norm``), global mean and a linear head.

    Keys match the official classification checkpoints after ``checkpoint_filter_fn``
    (``norm`` -> ``norm6``, ``head``).
    """

    def __init__(self, arch='small', num_classes=1000, in_chans=3, global_pool='avg', **kwargs):
        if global_pool not in ('avg', ''):
            raise ValueError(f"global_pool must be 'avg' or '', got {global_pool!r}")
        kwargs.pop('out_indices', None)
        super().__init__(arch=arch, in_channels=in_chans, out_indices=NUM_STAGES - 1, **kwargs)
        self.num_classes = num_classes
        self.global_pool = global_pool
        self.num_features = self.head_hidden_size = self.embed_dims[-1]
        self.head = self._make_head(num_classes)

    def _make_head(self, num_classes: int) -> nn.Module:
        head = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()
        head.apply(self._init_linear)
        return head

    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int, global_pool=None):
        self.num_classes = num_classes
        if global_pool is not None:
            self.global_pool = global_pool
        self.head = self._make_head(num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x)[-1]

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if self.global_pool == 'avg':
            x = x.mean((-2, -1))
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def _cfg(**kwargs):
    return {
        'url': '', 'num_classes': 1000, 'input_size': (3, 224, 224), 'pool_size': (7, 7),
        'crop_pct': 0.9, 'interpolation': 'bicubic', 'mean': IMAGENET_DEFAULT_MEAN,
        'std': IMAGENET_DEFAULT_STD, 'first_conv': 'patch_embed.proj', 'classifier': 'head',
        'license': 'mit', **kwargs
    }


default_cfgs = generate_default_cfgs(
    {f'coc_{arch}': _cfg() for arch in ContextCluster.arch_settings})


def _create(arch, pretrained, **kwargs):
    return build_model_with_cfg(ContextClusterClassifier, f'coc_{arch}', pretrained,
                                pretrained_filter_fn=checkpoint_filter_fn, arch=arch, **kwargs)


@register_model
def coc_tiny(pretrained=False, **kwargs):
    return _create('tiny', pretrained, **kwargs)


@register_model
def coc_tiny_plain(pretrained=False, **kwargs):
    return _create('tiny_plain', pretrained, **kwargs)


@register_model
def coc_small(pretrained=False, **kwargs):
    return _create('small', pretrained, **kwargs)


@register_model
def coc_medium(pretrained=False, **kwargs):
    return _create('medium', pretrained, **kwargs)


@register_model
def coc_base_dim64(pretrained=False, **kwargs):
    return _create('base_dim64', pretrained, **kwargs)


@register_model
def coc_base_dim96(pretrained=False, **kwargs):
    return _create('base_dim96', pretrained, **kwargs)
