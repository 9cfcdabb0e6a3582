"""Context Clusters as timm models: ``timm.create_model('coc_small', num_classes=...)``.

Registered when ``mmcoc`` is imported (``coc_*``, ``fec_*``, ``secvit_*``). ``pretrained=True`` with
``pretrained_cfg_overlay=dict(file=PATH)`` loads a local mmcoc or official checkpoint through
``checkpoint_filter_fn`` (no hub is contacted).
"""
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
import torch
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model

from .backbones.base import TimmClassifierMixin
from .backbones.context_cluster import NUM_STAGES, ContextCluster
from .backbones.fec import FEC
from .backbones.secvit import NUM_STAGES as SECVIT_STAGES
from .backbones.secvit import SecViT
from .necks import CLASSIFIER_DIM, classifier_layers
from .weight_layouts.context_cluster import checkpoint_filter_fn
from .weight_layouts.secvit import checkpoint_filter_fn as secvit_filter_fn


class ContextClusterClassifier(TimmClassifierMixin, ContextCluster):
    """The backbone's last stage, its norm (official ``norm``), global mean and a linear head.

    Keys match the official classification checkpoints after ``checkpoint_filter_fn``
    (``norm`` -> ``norm6``, ``head``).
    """

    def __init__(self, arch='small', num_classes=1000, in_chans=3, global_pool='avg', **kwargs):
        self.check_global_pool(global_pool)
        kwargs.pop('out_indices', None)
        super().__init__(arch=arch, in_channels=in_chans, out_indices=NUM_STAGES - 1, **kwargs)
        self.num_classes = num_classes
        self.global_pool = global_pool
        self.num_features = self.head_hidden_size = self.embed_dims[-1]
        self.head = self._make_head(num_classes)


class SecViTClassifier(TimmClassifierMixin, SecViT):
    """The official classifier (timm's ``secvit_*``): the backbone's last map, ``proj`` (1x1
    conv to 1024), ``norm`` (BN), Swish, global average, ``head`` (linear)."""

    def __init__(self, arch='t', num_classes=1000, in_chans=3, global_pool='avg', **kwargs):
        self.check_global_pool(global_pool)
        kwargs.pop('out_indices', None)
        kwargs.pop('norm_outputs', None)
        super().__init__(arch=arch, in_channels=in_chans, out_indices=SECVIT_STAGES - 1,
                         norm_outputs=False, **kwargs)
        self.num_classes = num_classes
        self.global_pool = global_pool
        self.num_features = self.embed_dims[-1]
        self.head_hidden_size = CLASSIFIER_DIM
        self.proj, self.norm, self.act = classifier_layers(self.num_features)
        self._init_weights(self.proj)
        self.head = self._make_head(num_classes)

    def pre_pool(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.proj(x)))


# ---------------------------------------------------------------------- weights


def _cfg(**kwargs):
    return {
        'url': '', 'num_classes': 1000, 'input_size': (3, 224, 224), 'pool_size': (7, 7),
        'crop_pct': 0.9, 'interpolation': 'bicubic', 'mean': IMAGENET_DEFAULT_MEAN,
        'std': IMAGENET_DEFAULT_STD, 'first_conv': 'patch_embed.proj', 'classifier': 'head',
        'license': 'mit', **kwargs
    }


class FECClassifier(ContextClusterClassifier, FEC):
    """An FEC backbone with ContextClusterClassifier's head: the official FEC classifiers'
    layout (``norm``, ``head``) is CoC's."""


default_cfgs = generate_default_cfgs(
    {**{f'coc_{arch}': _cfg() for arch in ContextCluster.arch_settings},
     **{f'fec_{arch}': _cfg() for arch in FEC.arch_settings}})
# SecViT: DeiT's evaluation crop (0.875); the stem's first conv is patch_embed.proj.0
default_cfgs.update(generate_default_cfgs(
    {f'secvit_{arch}': _cfg(crop_pct=0.875, first_conv='patch_embed.proj.0')
     for arch in SecViT.arch_settings}))


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


def _create_fec(arch, pretrained, **kwargs):
    # official FEC weights share CoC's key layout, hence CoC's filter
    return build_model_with_cfg(FECClassifier, f'fec_{arch}', pretrained,
                                pretrained_filter_fn=checkpoint_filter_fn, arch=arch, **kwargs)


@register_model
def fec_small(pretrained=False, **kwargs):
    return _create_fec('small', pretrained, **kwargs)


@register_model
def fec_base(pretrained=False, **kwargs):
    return _create_fec('base', pretrained, **kwargs)


@register_model
def fec_large(pretrained=False, **kwargs):
    return _create_fec('large', pretrained, **kwargs)


def _create_secvit(arch, pretrained, **kwargs):
    return build_model_with_cfg(SecViTClassifier, f'secvit_{arch}', pretrained,
                                pretrained_filter_fn=secvit_filter_fn, arch=arch, **kwargs)


@register_model
def secvit_t(pretrained=False, **kwargs):
    return _create_secvit('t', pretrained, **kwargs)


@register_model
def secvit_s(pretrained=False, **kwargs):
    return _create_secvit('s', pretrained, **kwargs)


@register_model
def secvit_b(pretrained=False, **kwargs):
    return _create_secvit('b', pretrained, **kwargs)


@register_model
def secvit_l(pretrained=False, **kwargs):
    return _create_secvit('l', pretrained, **kwargs)
