"""Context Clusters ("Image as Set of Points", Ma et al., ICLR'23) as an OpenMMLab backbone.

A stage is a module (``stages.{s}``: its ``downsample`` and ``blocks``), the stage outputs' norms
are ``norm{s}``. The official releases (and mmcoc's files before layout version 2) hold the same
tensors in one flat ``network`` list (``network.{2s}`` the blocks of stage ``s``,
``network.{2s-1}`` the downsampling into it, ``norm{2s}``); they load with renames only (see
``checkpoint_filter_fn`` and ``ContextCluster.upgrade_state_dict``).
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmcv.cnn.bricks import DropPath

from mmcoc.models.layers import ContextClusterMixer, is_fx_tracing, mlp_residual, run_block
from mmcoc.models.layers.mlp import is_group_norm1
from mmcoc.models.layers.tracing import register_leaf_modules
from mmcoc.models.layers.weight_init import init_trunc_normal
from mmcoc.models.weight_layouts.context_cluster import (
    LAYOUT_VERSION,
    checkpoint_filter_fn,
    upgrade_network_layout,
)
from mmcoc.registry import MODELS

from .base import ClusteringBackbone, check_regularisation

NUM_STAGES = 4
POSITION_CHANNELS = 2
_STAGE_KEYS = ('layers', 'embed_dims', 'heads', 'head_dim', 'mlp_ratios', 'proposals', 'folds')


class PointReducer(nn.Module):
    """Fuses neighbouring points into one (a strided conv, mathematically the same)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding)

    def forward(self, x):
        return self.proj(x)


class PointMlp(nn.Module):
    """Per-point MLP on channels-last ``Linear`` layers (the official layout of ``mlp.fc1/fc2``)."""

    def __init__(self, dim, hidden_dim, act_cfg, drop):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = build_activation_layer(act_cfg)
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x):
        x = self.drop(self.act(self.fc1(x.permute(0, 2, 3, 1))))
        return self.drop(self.fc2(x)).permute(0, 3, 1, 2)


class ClusterBlock(nn.Module):
    """Norm, context cluster, layer scale, residual (the mixer runs all four where no drop path
    draws: ``ContextClusterMixer.forward(x, norm, scale)``); then norm, MLP, layer scale,
    residual (as ``mmcoc.models.layers.mlp_residual`` for GroupNorm(1), GELU and no
    dropout)."""

    def __init__(self, *, dim, mlp_ratio, heads, head_dim, proposals, folds, normalizer,
                 norm_cfg, act_cfg, drop_rate, drop_path_rate, layer_scale_init_value,
                 weighting='similarity'):
        super().__init__()
        self.norm1 = build_norm_layer(norm_cfg, dim)[1]
        self.token_mixer = ContextClusterMixer(dim, dim, heads=heads, head_dim=head_dim,
                                               proposals=proposals, folds=folds,
                                               normalizer=normalizer, weighting=weighting)
        self.norm2 = build_norm_layer(norm_cfg, dim)[1]
        self.mlp = PointMlp(dim, int(dim * mlp_ratio), act_cfg, drop_rate)
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        self.layer_scale_1 = nn.Parameter(layer_scale_init_value * torch.ones(dim))
        self.layer_scale_2 = nn.Parameter(layer_scale_init_value * torch.ones(dim))

    def forward(self, x):
        # outside training drop path is the identity: one computation whatever its rate, so
        # that models differing only in drop_path_rate give the same outputs bit for bit
        dropping = self.training and isinstance(self.drop_path, DropPath)
        if dropping:
            x = x + self.drop_path(
                self.layer_scale_1[:, None, None] * self.token_mixer(self.norm1(x)))
        else:
            x = self.token_mixer(x, norm=self.norm1, scale=self.layer_scale_1)
        if self._mlp_fusable():
            return mlp_residual(x, self.norm2, self.mlp.fc1, self.mlp.fc2, self.layer_scale_2,
                                self.drop_path.drop_prob if dropping else 0.)
        return x + self.drop_path(self.layer_scale_2[:, None, None] * self.mlp(self.norm2(x)))

    def _mlp_fusable(self) -> bool:
        """Whether the MLP half is ``mlp_residual``'s: GroupNorm(1), exact GELU, no dropout."""
        norm, mlp = self.norm2, self.mlp
        return (is_group_norm1(norm) and type(mlp.act) is nn.GELU and mlp.act.approximate == 'none'
                and mlp.drop.p == 0)


# torch.fx records each block as one call: its mixer half picks its computation by the map's
# size, so a traced graph computes what the eager model does, bit for bit
register_leaf_modules(ClusterBlock)


class ContextClusterStage(nn.Module):
    """One stage: the downsampling into it (none in the first stage), then one block per
    drop-path rate, built from keywords (``block_cfg``: those of ``ClusterBlock`` that every
    block shares).

    The blocks pass their maps channels-last: their norms, products and point MLPs run on
    ``[points, channels]`` rows without a layout copy; the stage hands on a plain map.
    """

    def __init__(self, dim: int, drop_path_rates: Sequence[float],
                 downsample: Optional[nn.Module] = None, **block_cfg):
        super().__init__()
        self.downsample = downsample
        self.blocks = nn.Sequential(*[ClusterBlock(dim=dim, drop_path_rate=rate, **block_cfg)
                                      for rate in drop_path_rates])

    def forward(self, x: torch.Tensor, with_cp: bool = False) -> torch.Tensor:
        """With ``with_cp`` each block runs under activation checkpointing."""
        if self.downsample is not None:
            x = self.downsample(x)
        x = x.contiguous(memory_format=torch.channels_last)
        for block in self.blocks:
            x = run_block(block, x, with_cp=with_cp)
        return x.contiguous()


@MODELS.register_module()
class ContextCluster(ClusteringBackbone):
    """Context-Cluster backbone: an image is a set of points (RGB + 2 position channels).

    Args:
        arch (str | dict): a name from ``arch_settings`` or a dict with the keys
            ``layers``, ``embed_dims``, ``heads``, ``head_dim``, ``proposals``, ``folds`` and
            optionally ``mlp_ratios`` (default ``[8, 8, 4, 4]``). Per-stage values may be given
            once for all stages.
        proposals (int | Sequence[int], optional): centers per side within a region, per stage;
            overrides the arch (2 -> 4 centers, 5 -> 25, 7 -> 49).
        folds (int | Sequence[int], optional): regions per side, per stage; overrides the arch.
        in_channels (int): image channels (the 2 position channels are appended internally).
        out_indices (int | Sequence[int]): stages (0-3) whose normed maps are returned, at
            strides 4, 8, 16 and 32. Default ``-1``: the last stage.
        frozen_stages (int): ``-1`` freezes nothing, ``0`` the point embedding, ``k`` the
            embedding and stages ``0 .. k-1``.
        norm_eval (bool): keep batch-norm layers (if ``norm_cfg`` asks for them) in eval mode.
        with_cp (bool): run every block under activation checkpointing
            (``torch.utils.checkpoint``, non-reentrant) while training: less memory for one
            more forward pass of the blocks, the same outputs and gradients (a batch norm in a
            block, if ``norm_cfg`` asks for one, would update its running statistics twice).
        cluster_normalizer (str, optional): what a cluster's sum is divided by (default: the
            family's ``default_normalizer``): ``'similarity'``,
            ``1 + sum(sim)`` (the paper's Eq. 1 and the official code since 2023-05-31, which
            trained today's ImageNet checkpoints), or ``'count'``, ``1 + |cluster|`` (the
            2023-03 code, which trained the first classification checkpoints and every
            released Mask R-CNN and Semantic FPN model). Loading official weights warns when
            their layout says the other one (``trained_normalizer``).
        drop_rate, drop_path_rate, layer_scale_init_value, norm_cfg, act_cfg: as usual;
            drop path rises linearly over all blocks.
        pretrained (str, optional): a checkpoint path, the same as ``init_cfg=dict(
            type='Pretrained', checkpoint=pretrained)`` (mmseg passes its model's here).
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH[, prefix=...])`` loads mmcoc or
            official Context-Cluster weights through ``checkpoint_filter_fn``.
    """
    arch_settings = {
        'tiny': dict(layers=[3, 4, 5, 2], embed_dims=[32, 64, 196, 320], heads=[4, 4, 8, 8],
                     head_dim=24, proposals=2, folds=[8, 4, 2, 1]),
        'tiny_plain': dict(layers=[3, 4, 5, 2], embed_dims=[32, 64, 196, 320],
                           heads=[4, 4, 8, 8], head_dim=24, proposals=[4, 4, 2, 2], folds=1),
        'small': dict(layers=[2, 2, 6, 2], embed_dims=[64, 128, 320, 512], heads=[4, 4, 8, 8],
                      head_dim=32, proposals=2, folds=[8, 4, 2, 1]),
        'medium': dict(layers=[4, 4, 12, 4], embed_dims=[64, 128, 320, 512],
                       heads=[6, 6, 12, 12], head_dim=32, proposals=2, folds=[8, 4, 2, 1]),
        'base_dim64': dict(layers=[6, 6, 24, 6], embed_dims=[64, 128, 320, 512],
                           heads=[8, 8, 16, 16], head_dim=32, proposals=2, folds=[8, 4, 2, 1]),
        'base_dim96': dict(layers=[4, 4, 12, 4], embed_dims=[96, 192, 384, 768],
                           heads=[8, 8, 16, 16], head_dim=32, proposals=2, folds=[8, 4, 2, 1]),
    }
    default_mlp_ratios = [8, 8, 4, 4]
    # How the mixers weight a cluster's members (``ContextClusterMixer``'s ``weighting``);
    # a subclass that aggregates otherwise (FEC: ``'plain'``) overrides it.
    mixer_weighting = 'similarity'
    # The family's normaliser where ``cluster_normalizer`` is not given (FEC: ``'count'``).
    default_normalizer = 'similarity'
    # The first point reducer is 4x4 stride 4, so each side needs at least 4 pixels.
    min_input_size = 4
    # torch records it in every state dict (``_metadata``); see ``upgrade_state_dict``
    _version = LAYOUT_VERSION

    def __init__(self,
                 arch: Union[str, Dict] = 'small',
                 proposals: Optional[Union[int, Sequence[int]]] = None,
                 folds: Optional[Union[int, Sequence[int]]] = None,
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = -1,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 cluster_normalizer: Optional[str] = None,
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: float = 1e-5,
                 norm_cfg: Dict = dict(type='GN', num_groups=1),
                 act_cfg: Dict = dict(type='GELU'),
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[Union[Dict, Sequence[Dict]]] = None):
        check_regularisation(drop_path_rate, layer_scale_init_value)
        super().__init__(in_channels, out_indices, frozen_stages, norm_eval, pretrained,
                         init_cfg)
        self.arch = self.resolve_arch(arch, proposals=proposals, folds=folds)
        self.cluster_normalizer = cluster_normalizer or self.default_normalizer
        self.with_cp = with_cp
        a = self.arch
        dims = a['embed_dims']
        self.embed_dims = dims

        self.patch_embed = PointReducer(in_channels + POSITION_CHANNELS, dims[0], 4, 4, 0)
        # drop path rises linearly over all blocks
        total_blocks = sum(a['layers'])
        rates = [drop_path_rate * i / max(total_blocks - 1, 1) for i in range(total_blocks)]
        self.stages = nn.ModuleList()
        for i in range(NUM_STAGES):
            first = sum(a['layers'][:i])
            self.stages.append(ContextClusterStage(
                dims[i], rates[first:first + a['layers'][i]],
                downsample=self._make_downsample(i, dims[i - 1], dims[i], norm_cfg) if i else None,
                mlp_ratio=a['mlp_ratios'][i], heads=a['heads'][i], head_dim=a['head_dim'][i],
                proposals=a['proposals'][i], folds=a['folds'][i],
                normalizer=self.cluster_normalizer, norm_cfg=norm_cfg, act_cfg=act_cfg,
                drop_rate=drop_rate, layer_scale_init_value=layer_scale_init_value,
                weighting=self.mixer_weighting))
        # the official classifier's ``norm`` is the last one (norm3)
        for i in self.out_indices:
            self.add_module(self.norm_name(i), build_norm_layer(norm_cfg, dims[i])[1])
        self.apply(self._init_linear)
        self._freeze_stages()

    # ------------------------------------------------------------------ configuration
    @classmethod
    def resolve_arch(cls, arch, proposals=None, folds=None) -> Dict:
        """Expand an arch name or dict to per-stage lists, checking every value."""
        arch = cls._arch_dict(arch, cls.__name__, _STAGE_KEYS)
        arch.setdefault('mlp_ratios', cls.default_mlp_ratios)
        if proposals is not None:
            arch['proposals'] = proposals
        if folds is not None:
            arch['folds'] = folds
        cls._check_arch_keys(arch, cls.__name__, _STAGE_KEYS)
        resolved = {}
        for key in _STAGE_KEYS:
            value = cls._per_stage(key, arch[key])
            if key != 'mlp_ratios' and not all(isinstance(x, int) and x >= 1 for x in value):
                raise ValueError(f'arch[{key!r}] must hold positive ints, got {value}')
            resolved[key] = value
        return resolved

    def _make_downsample(self, stage: int, in_dim: int, out_dim: int,
                         norm_cfg: Dict) -> nn.Module:
        """The layer (``stages[stage].downsample``) that leads from stage ``stage - 1`` into
        ``stage`` at half the resolution; ``self.arch`` is resolved when it is called. Context
        Clusters fuse neighbouring points (a 3x3, stride-2 point reducer); a subclass that
        downsamples otherwise overrides this."""
        return PointReducer(in_dim, out_dim, 3, 2, 1)

    @staticmethod
    def norm_name(stage: int) -> str:
        return f'norm{stage}'

    @staticmethod
    def _init_linear(m):
        # As the reference: Linear layers truncated-normal(0.02), convs keep PyTorch's init.
        init_trunc_normal(m, nn.Linear)

    # ------------------------------------------------------------------ forward
    def check_input(self, x: torch.Tensor):
        if is_fx_tracing():
            return  # a Proxy: its shape is known only when the traced graph runs
        name = type(self).__name__
        self._check_image_batch(
            x, name, f' and appends the {POSITION_CHANNELS} position channels itself')
        if min(x.shape[2:]) < self.min_input_size:
            raise ValueError(
                f'{name} needs inputs of at least {self.min_input_size}x'
                f'{self.min_input_size} pixels (its first point reducer is 4x4, stride 4); got '
                f'{x.shape[2]}x{x.shape[3]}. Resize or pad the image.')

    @staticmethod
    def position_channels(x: torch.Tensor) -> torch.Tensor:
        """``[N, 2, H, W]``: row / (H - 1) - 0.5 and col / (W - 1) - 0.5, as the reference."""
        n, _, h, w = x.shape
        rows = torch.arange(h, device=x.device, dtype=torch.float32) / (h - 1.0) - 0.5
        cols = torch.arange(w, device=x.device, dtype=torch.float32) / (w - 1.0) - 0.5
        grid = torch.stack(torch.meshgrid(rows, cols, indexing='ij')).to(x.dtype)
        return grid.unsqueeze(0).expand(n, -1, -1, -1)

    @property
    def built_stages(self) -> int:
        """Stages present (4, fewer after timm's ``prune_intermediate_layers``)."""
        return len(self.stages)

    def stage_blocks(self, stage: int) -> nn.Sequential:
        return self.stages[stage].blocks

    def stage_entry(self, stage: int) -> Optional[nn.Module]:
        return self.stages[stage].downsample

    def stage_module_names(self) -> List[str]:
        """The module whose output is each stage's (un-normed) map."""
        return [f'stages.{i}' for i in range(self.built_stages)]

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        """The checked image, its position channels appended, through the point embedding."""
        self.check_input(x)
        return self.patch_embed(torch.cat([x, self.position_channels(x)], dim=1))

    def forward_stage(self, stage: int, x: torch.Tensor) -> torch.Tensor:
        """Stage ``stage``: the downsampling into it (stages 1-3), then its blocks, each under
        activation checkpointing with ``with_cp``."""
        return self.stages[stage](x, with_cp=self.with_cp)

    def forward(self, x: torch.Tensor):
        x = self.forward_stem(x)
        outs = []
        for stage in range(self.built_stages):
            x = self.forward_stage(stage, x)
            if stage in self.out_indices:
                outs.append(getattr(self, self.norm_name(stage))(x))
        return tuple(outs)

    # ------------------------------------------------------------------ training state
    def _frozen_modules(self):
        frozen = [self.patch_embed]
        for stage in range(self.frozen_stages):
            frozen.append(self.stages[stage])
            if stage in self.out_indices:
                frozen.append(getattr(self, self.norm_name(stage)))
        return frozen

    def checkpoint_filter(self, init_cfg):
        return checkpoint_filter_fn

    def upgrade_state_dict(self, state_dict: Dict, prefix: str, version: Optional[int]):
        """Rename, in place, the keys under ``prefix`` of the flat ``network`` layout (official
        releases; mmcoc's files before layout version 2, which record ``version`` 1) to this
        one's; ``version``: the layout the state dict records for this module (torch's
        ``_metadata``), ``None`` where it records none (then the keys tell)."""
        upgrade_network_layout(state_dict, prefix, version)
