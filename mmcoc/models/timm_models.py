"""Context Clusters as timm models: ``timm.create_model('coc_small', num_classes=...)``.

Registered when ``mmcoc`` is imported (``coc_*``, ``fec_*``, ``secvit_*``). ``pretrained=True`` with
``pretrained_cfg_overlay=dict(file=PATH)`` loads a local mmcoc or official checkpoint through
``checkpoint_filter_fn`` (no hub is contacted).
"""
from typing import Dict, List, Optional, Set, Tuple, Union

import torch
import torch.nn as nn
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from timm.models._features import feature_take_indices

from mmcoc.models.layers.weight_init import init_trunc_normal
from mmcoc.utils.checkpoint import load_checkpoint_file
from mmcoc.utils.weights_fit import check_fit

from .backbones.context_cluster import NUM_STAGES, ContextCluster
from .backbones.fec import FEC
from .backbones.secvit import NUM_STAGES as SECVIT_STAGES
from .backbones.secvit import SecViT
from .necks import CLASSIFIER_DIM, classifier_layers
from .weight_layouts.context_cluster import checkpoint_filter_fn
from .weight_layouts.secvit import checkpoint_filter_fn as secvit_filter_fn

GLOBAL_POOLS = ('avg', 'max', '')


class TimmModelMixin:
    """timm's model contract over a ClusteringBackbone classifier (as timm's ``metaformer``,
    ``convnext``; put it before the backbone among the bases): the last map through
    ``pre_pool`` (identity unless a subclass adds layers), global pooling and a linear ``head``
    from ``head_hidden_size`` features; ``feature_info`` per stage, ``forward_intermediates``,
    ``prune_intermediate_layers``, ``set_grad_checkpointing`` (the backbone's ``with_cp``),
    ``group_matcher``, ``no_weight_decay`` and ``reset_classifier`` checking ``global_pool``
    (``'avg'``, ``'max'`` or ``''`` for none) as ``create_model`` does. A subclass gives
    ``final_norm`` (the norm on the last map in ``forward_features``), ``_reset_pre_logits``
    and the regexes of ``group_matcher``."""
    _no_weight_decay_names: Tuple[str, ...] = ()

    @staticmethod
    def check_global_pool(global_pool):
        if global_pool not in GLOBAL_POOLS:
            raise ValueError(f'global_pool must be one of {GLOBAL_POOLS} (\'\' for no pooling), '
                             f'got {global_pool!r}')

    def _init_feature_info(self):
        self.feature_info = [
            dict(num_chs=self.embed_dims[i], reduction=2 ** (i + 2), module=name)
            for i, name in enumerate(self.stage_module_names())]

    # ------------------------------------------------------------------ head
    def _make_head(self, num_classes: int) -> nn.Module:
        if num_classes <= 0:
            return nn.Identity()
        head = nn.Linear(self.head_hidden_size, num_classes)
        init_trunc_normal(head, nn.Linear)
        return head

    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int, global_pool: Optional[str] = None,
                         reset_other: bool = False):
        """A new ``head`` for ``num_classes`` (0: none) and, if given, a new ``global_pool``;
        ``reset_other`` also drops the layers between the last map and the pooling."""
        if global_pool is not None:
            self.check_global_pool(global_pool)
        if not isinstance(num_classes, int) or num_classes < 0:
            raise ValueError(f'num_classes must be an int >= 0, got {num_classes!r}')
        if reset_other:
            self._reset_pre_logits()
        self.num_classes = num_classes
        if global_pool is not None:
            self.global_pool = global_pool
        self.head = self._make_head(num_classes)

    def _reset_pre_logits(self):
        self.head_hidden_size = self.num_features

    def pre_pool(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.pre_pool(x)
        if self.global_pool == 'avg':
            x = x.mean((-2, -1))
        elif self.global_pool == 'max':
            x = x.amax((-2, -1))
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    # ------------------------------------------------------------------ features
    def final_norm(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.forward_stem(x)
        for stage in range(self.built_stages):
            x = self.forward_stage(stage, x)
        return self.final_norm(x)

    def forward_intermediates(
            self,
            x: torch.Tensor,
            indices: Optional[Union[int, List[int]]] = None,
            norm: bool = False,
            stop_early: bool = False,
            output_fmt: str = 'NCHW',
            intermediates_only: bool = False,
    ) -> Union[List[torch.Tensor], Tuple[torch.Tensor, List[torch.Tensor]]]:
        """The maps of the stages ``indices`` names (the last ``n`` for an int, all for None),
        un-normed but for the last stage's with ``norm``; with the final features (those of
        ``forward_features``) unless ``intermediates_only``. ``stop_early`` runs no stage
        after the last one asked for."""
        if output_fmt != 'NCHW':
            raise ValueError(f"output_fmt must be 'NCHW', got {output_fmt!r}")
        stages = self.built_stages
        take_indices, max_index = feature_take_indices(stages, indices)
        last = stages - 1
        run = max_index + 1 if stop_early else stages
        intermediates = []
        x = self.forward_stem(x)
        for stage in range(run):
            x = self.forward_stage(stage, x)
            if stage in take_indices:
                intermediates.append(self.final_norm(x) if norm and stage == last else x)
        if intermediates_only:
            return intermediates
        if run - 1 == last:
            x = self.final_norm(x)
        return x, intermediates

    def prune_intermediate_layers(self, indices: Union[int, List[int]] = 1,
                                  prune_norm: bool = False, prune_head: bool = True):
        """Drop the stages after the last one ``indices`` names (and, as timm, the final norm
        and the head where they no longer apply); returns the stage indices taken."""
        take_indices, max_index = feature_take_indices(self.built_stages, indices)
        prune_end = max_index < self.built_stages - 1
        self._truncate_stages(max_index + 1)
        if prune_norm or prune_end:
            self._prune_final_norm()
        if prune_end:
            self.num_features = self.head_hidden_size = self.feature_info[max_index]['num_chs']
        self.feature_info = self.feature_info[:max_index + 1]
        if prune_head or prune_end:
            self.reset_classifier(0, '', reset_other=True)
        return take_indices

    def _prune_final_norm(self):
        pass

    # ------------------------------------------------------------------ training
    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True):
        """Activation checkpointing of every block (the backbone's ``with_cp``)."""
        self.with_cp = enable

    @property
    def grad_checkpointing(self) -> bool:
        return self.with_cp

    @torch.jit.ignore
    def no_weight_decay(self) -> Set[str]:
        """Layer scales and the similarity scale/shift (timm also exempts every 1-D
        parameter by itself)."""
        return {name for name, _ in self.named_parameters()
                if name.rsplit('.', 1)[-1] in self._no_weight_decay_names}


class ContextClusterClassifier(TimmModelMixin, ContextCluster):
    """The backbone's last stage, its norm (official ``norm``), global mean and a linear head.

    Keys match the official classification checkpoints after ``checkpoint_filter_fn``
    (``network`` -> ``stages``, ``norm`` -> ``norm3``, ``head``).
    """

    def __init__(self, arch='small', num_classes=1000, in_chans=3, global_pool='avg', **kwargs):
        self.check_global_pool(global_pool)
        kwargs.pop('out_indices', None)
        super().__init__(arch=arch, in_channels=in_chans, out_indices=NUM_STAGES - 1, **kwargs)
        self.num_classes = num_classes
        self.global_pool = global_pool
        self.num_features = self.head_hidden_size = self.embed_dims[-1]
        self.head = self._make_head(num_classes)
        self._init_feature_info()

    _no_weight_decay_names = ('layer_scale_1', 'layer_scale_2', 'sim_alpha', 'sim_beta')

    def final_norm(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self, self.norm_name(NUM_STAGES - 1))(x)

    def _prune_final_norm(self):
        setattr(self, self.norm_name(NUM_STAGES - 1), nn.Identity())

    def _truncate_stages(self, stages: int):
        self.stages = self.stages[:stages]

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> Dict:
        """Parameter groups for layer-wise decay: the embedding, then the stages in order
        (unless ``coarse``, each stage's downsampling and each block on its own), the output
        norm last."""
        return dict(
            stem=r'^patch_embed',
            blocks=r'^stages\.(\d+)' if coarse else [
                (r'^stages\.(\d+)\.downsample\.', (-1, )),
                (r'^stages\.(\d+)\.blocks\.(\d+)\.', None),
                (r'^norm\d+', (99999, )),
            ])


class SecViTClassifier(TimmModelMixin, SecViT):
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
        init_trunc_normal(self.proj, nn.Conv2d)
        self.head = self._make_head(num_classes)
        self._init_feature_info()

    _no_weight_decay_names = ('gamma_1', 'gamma_2')

    def _truncate_stages(self, stages: int):
        self.layers = self.layers[:stages]
        self.layers[-1].downsample = None

    def _reset_pre_logits(self):
        self.proj, self.norm, self.act = nn.Identity(), nn.Identity(), nn.Identity()
        self.head_hidden_size = self.num_features

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> Dict:
        """Parameter groups for layer-wise decay: the stem, then the stages' blocks (each block
        on its own unless ``coarse``; a downsampling with the stage before it), the classifier's
        projection last."""
        return dict(
            stem=r'^patch_embed',
            blocks=r'^layers\.(\d+)' if coarse else [
                (r'^layers\.(\d+)\.downsample', (99998, )),
                (r'^layers\.(\d+)\.blocks\.(\d+)', None),
                (r'^(?:proj|norm)\.', (99999, )),
            ])

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


# features_only: forward_intermediates by default ('getter'); feature_cls='hook' and 'fx' also work
FEATURE_CFG = dict(feature_cls='getter', out_indices=(0, 1, 2, 3))


def _feature_cfg(kwargs: Dict) -> Dict:
    return {**FEATURE_CFG, **(kwargs.pop('feature_cfg', None) or {})}


def _pretrained_source(pretrained_cfg, overlay: Dict) -> Optional[str]:
    for cfg in (overlay, pretrained_cfg):
        cfg = cfg.to_dict() if hasattr(cfg, 'to_dict') else cfg
        if isinstance(cfg, dict) and (cfg.get('file') or cfg.get('url')):
            return cfg.get('file') or cfg.get('url')
    return None


def _create(model_cls, name: str, arch: str, filter_fn, pretrained: bool, **kwargs):
    """A timm model. ``pretrained``: the weights that ``pretrained_cfg_overlay=dict(file=...)``
    (or ``url``) names, read by mmcoc's weights-only reader (timm would unpickle official
    releases' ``argparse.Namespace`` only with torch's plain loader) and mapped by
    ``filter_fn`` under mmcoc's fit policy; timm then adapts the classifier and input conv."""
    source = None
    if pretrained:
        overlay = dict(kwargs.pop('pretrained_cfg_overlay', None) or {})
        if overlay.get('state_dict') is None:
            source = _pretrained_source(kwargs.get('pretrained_cfg'), overlay)
            if source is None:
                raise ValueError(
                    f'{name}: no weights are published under this name for timm to fetch; '
                    "give them: timm.create_model(..., pretrained=True, pretrained_cfg_overlay="
                    "dict(file='coc_small.pth.tar')) (an official release or mmcoc checkpoint)")
            overlay.update(state_dict=load_checkpoint_file(source), file=None, url=None)
            filter_fn = _fitted(filter_fn, source)
        kwargs['pretrained_cfg_overlay'] = overlay
    model = build_model_with_cfg(model_cls, name, pretrained, pretrained_filter_fn=filter_fn,
                                 arch=arch, feature_cfg=_feature_cfg(kwargs), **kwargs)
    for module in model.modules():  # the model would keep the whole checkpoint alive
        cfg = getattr(module, 'pretrained_cfg', None)
        if isinstance(cfg, dict) and cfg.get('state_dict') is not None:
            cfg.update(state_dict=None, file=source)
    return model


def _fitted(filter_fn, source: str):
    def filter_and_check(state_dict, model):
        state_dict = filter_fn(state_dict, model)
        # timm replaces a classifier of another size itself
        check_fit(source, state_dict, model, whole=False, ignore=('head.',),
                  fix='The weights are of another architecture or variant: create the timm '
                      'model of their family and variant.')
        return state_dict
    return filter_and_check


@register_model
def coc_tiny(pretrained=False, **kwargs):
    return _create(ContextClusterClassifier, 'coc_tiny', 'tiny', checkpoint_filter_fn,
                   pretrained, **kwargs)


@register_model
def coc_tiny_plain(pretrained=False, **kwargs):
    return _create(ContextClusterClassifier, 'coc_tiny_plain', 'tiny_plain', checkpoint_filter_fn,
                   pretrained, **kwargs)


@register_model
def coc_small(pretrained=False, **kwargs):
    return _create(ContextClusterClassifier, 'coc_small', 'small', checkpoint_filter_fn,
                   pretrained, **kwargs)


@register_model
def coc_medium(pretrained=False, **kwargs):
    return _create(ContextClusterClassifier, 'coc_medium', 'medium', checkpoint_filter_fn,
                   pretrained, **kwargs)


@register_model
def coc_base_dim64(pretrained=False, **kwargs):
    return _create(ContextClusterClassifier, 'coc_base_dim64', 'base_dim64', checkpoint_filter_fn,
                   pretrained, **kwargs)


@register_model
def coc_base_dim96(pretrained=False, **kwargs):
    return _create(ContextClusterClassifier, 'coc_base_dim96', 'base_dim96', checkpoint_filter_fn,
                   pretrained, **kwargs)


# official FEC weights share CoC's key layout, hence CoC's filter


@register_model
def fec_small(pretrained=False, **kwargs):
    return _create(FECClassifier, 'fec_small', 'small', checkpoint_filter_fn, pretrained,
                   **kwargs)


@register_model
def fec_base(pretrained=False, **kwargs):
    return _create(FECClassifier, 'fec_base', 'base', checkpoint_filter_fn, pretrained,
                   **kwargs)


@register_model
def fec_large(pretrained=False, **kwargs):
    return _create(FECClassifier, 'fec_large', 'large', checkpoint_filter_fn, pretrained,
                   **kwargs)


@register_model
def secvit_t(pretrained=False, **kwargs):
    return _create(SecViTClassifier, 'secvit_t', 't', secvit_filter_fn, pretrained,
                   **kwargs)


@register_model
def secvit_s(pretrained=False, **kwargs):
    return _create(SecViTClassifier, 'secvit_s', 's', secvit_filter_fn, pretrained,
                   **kwargs)


@register_model
def secvit_b(pretrained=False, **kwargs):
    return _create(SecViTClassifier, 'secvit_b', 'b', secvit_filter_fn, pretrained,
                   **kwargs)


@register_model
def secvit_l(pretrained=False, **kwargs):
    return _create(SecViTClassifier, 'secvit_l', 'l', secvit_filter_fn, pretrained,
                   **kwargs)
