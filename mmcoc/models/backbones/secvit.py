"""SecViT ("Semantic Equitable Clustering: A Simple, Fast and Effective Strategy for Vision
Transformer", Fan et al., 2024) as an OpenMMLab backbone and a timm classifier.

A four-stage hierarchical vision transformer whose attention runs inside equal-size semantic
clusters (``mmcoc.models.layers.equal_cluster_attention``): 32, 8 and 2 clusters in the first
three stages, global attention in the last. Module names follow the official release
(``patch_embed.proj``, ``layers.{i}.blocks.{j}.{pos,norm1,attn.qkv,attn.lepe,attn.out_proj,norm2,
ffn.fc1,ffn.dwconv,ffn.fc2}``, ``layers.{i}.downsample``; the classifier's ``proj``, ``norm``,
``head``) so that official weights load with renames only (``checkpoint_filter_fn``).

Any input size runs: the convolutions pad as usual, and a token count that does not divide by
the cluster count is handled inside the clustering op without letting any padding reach a real
token's attention.
"""
import functools
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks import DropPath

from mmcoc.models.layers import SECAttention, is_fx_tracing, rotary_tables, run_block
from mmcoc.models.layers.weight_init import init_trunc_normal
from mmcoc.models.weight_layouts.secvit import checkpoint_filter_fn
from mmcoc.registry import MODELS

from .base import ClusteringBackbone, check_regularisation

NUM_STAGES = 4
_ARCH_KEYS = ('embed_dims', 'depths', 'num_heads', 'num_clusters', 'mlp_ratio',
              'drop_path_rate', 'layer_scale')


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels of a ``[B, C, H, W]`` map (official ``LayerNorm2d``; the
    inner ``norm`` keeps the official key names)."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvFFN(nn.Module):
    """1x1 conv to the hidden width, GELU, ``x + dwconv3x3(x)``, 1x1 conv back."""

    def __init__(self, dim: int, hidden_dim: int, drop: float = 0.):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden_dim, 1)
        self.act = nn.GELU()
        self.dwconv = nn.Conv2d(hidden_dim, hidden_dim, 3, 1, 1, groups=hidden_dim)
        self.fc2 = nn.Conv2d(hidden_dim, dim, 1)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # GELU and the depthwise conv would each keep a hidden-width map for backward; they
        # are recomputed from fc1's output instead (a few percent of the FFN's work)
        x = run_block(self._hidden, self.fc1(x), with_cp=True)
        return self.drop(self.fc2(x))

    def _hidden(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.act(x))
        return x + self.dwconv(x)


class SecViTBlock(nn.Module):
    """``x += dwconv3x3(x)`` (CPE); ``x += attn(LN(x))``; ``x += FFN(LN(x))``."""

    def __init__(self, dim, num_heads, num_clusters, mlp_ratio, drop_rate, drop_path_rate,
                 layer_scale_init_value: Optional[float]):
        super().__init__()
        self.pos = nn.Conv2d(dim, dim, 3, 1, 1, groups=dim)
        self.norm1 = ChannelLayerNorm(dim)
        self.attn = SECAttention(dim, num_heads, num_clusters)
        self.norm2 = ChannelLayerNorm(dim)
        self.ffn = ConvFFN(dim, int(dim * mlp_ratio), drop_rate)
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        self.layer_scale = layer_scale_init_value is not None
        if self.layer_scale:
            self.gamma_1 = nn.Parameter(layer_scale_init_value * torch.ones(1, dim, 1, 1))
            self.gamma_2 = nn.Parameter(layer_scale_init_value * torch.ones(1, dim, 1, 1))

    def forward(self, x: torch.Tensor, rotary) -> torch.Tensor:
        x = x + self.pos(x)
        attn = self.attn(self.norm1(x), rotary)
        if self.layer_scale:
            x = x + self.drop_path(self.gamma_1 * attn)
            return x + self.drop_path(self.gamma_2 * self.ffn(self.norm2(x)))
        x = x + self.drop_path(attn)
        return x + self.drop_path(self.ffn(self.norm2(x)))


class Downsample(nn.Module):
    """3x3 stride-2 conv and a norm (official ``PatchMerging``: ``reduction``, ``norm``)."""

    def __init__(self, in_dim: int, out_dim: int, norm_cfg: Dict):
        super().__init__()
        self.reduction = nn.Conv2d(in_dim, out_dim, 3, 2, 1)
        self.norm = build_norm_layer(norm_cfg, out_dim)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.reduction(x))


class SecViTStage(nn.Module):
    """The blocks of one stage, then (stages 0-2) the downsampling into the next."""

    def __init__(self, blocks: List[SecViTBlock], downsample: Optional[Downsample]):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.downsample = downsample

    def forward_blocks(self, x: torch.Tensor, with_cp: bool = False) -> torch.Tensor:
        """The blocks, each under activation checkpointing with ``with_cp``."""
        if not len(self.blocks):
            return x
        # one rotary table per stage: every block sees the same map size and head dim
        head_dim = self.blocks[0].attn.head_dim
        rotary = rotary_tables(x.shape[2], x.shape[3], head_dim, x.device, x.dtype)
        for block in self.blocks:
            x = run_block(block, x, rotary, with_cp=with_cp)
        return x


class ConvStem(nn.Module):
    """Stride-4 stem: 3x3/2 conv to C/2, two 3x3 convs, 3x3/2 conv to C (BN, GELU between)."""

    def __init__(self, in_channels: int, dim: int, norm_cfg: Dict):
        super().__init__()
        half = dim // 2

        def norm(channels):
            return build_norm_layer(norm_cfg, channels)[1]

        # one Sequential, indexed as the official ``patch_embed.proj.{0..10}``
        self.proj = nn.Sequential(
            nn.Conv2d(in_channels, half, 3, 2, 1), norm(half), nn.GELU(),
            nn.Conv2d(half, half, 3, 1, 1), norm(half), nn.GELU(),
            nn.Conv2d(half, half, 3, 1, 1), norm(half), nn.GELU(),
            nn.Conv2d(half, dim, 3, 2, 1), norm(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


@MODELS.register_module()
class SecViT(ClusteringBackbone):
    """SecViT backbone: a convolutional stem and four stages of SEC-attention blocks.

    Args:
        arch (str | dict): ``'t'``, ``'s'``, ``'b'`` or ``'l'`` (the paper's variants; the
            official code calls B ``M``), or a dict with the keys ``embed_dims``, ``depths``,
            ``num_heads``, ``num_clusters`` and optionally ``mlp_ratio`` (3), ``drop_path_rate``
            (0.1), ``layer_scale`` (per stage, False). Per-stage values may be given once.
        num_clusters (int | Sequence[int], optional): clusters per stage (1 = global
            attention); overrides the arch's ``[32, 8, 2, 1]``.
        in_channels (int): image channels.
        out_indices (int | Sequence[int]): stages (0-3) whose maps are returned, at strides 4,
            8, 16 and 32. Default ``-1``: the last stage.
        norm_outputs (bool): a LayerNorm on every returned map (``out_norm{i}``), for dense
            heads; the classifier layouts take the last map un-normed, as the official model.
        frozen_stages (int): ``-1`` freezes nothing, ``0`` the stem, ``k`` the stem and stages
            ``0 .. k-1`` (with the downsampling into them).
        norm_eval (bool): keep the batch norms of the stem and downsampling in eval mode.
        with_cp (bool): run every block under activation checkpointing
            (``torch.utils.checkpoint``, non-reentrant) while training: less memory for one
            more forward pass of the blocks, the same outputs and gradients (a batch norm in a
            block, if ``norm_cfg`` asks for one, would update its running statistics twice).
        drop_rate (float): dropout in the FFNs.
        drop_path_rate (float, optional): stochastic depth, rising linearly over all blocks;
            default the arch's (T 0.1, S 0.15, B 0.4, L 0.5).
        layer_scale_init_value (float): initial layer scale where the arch has layer scale.
        norm_cfg (dict): the stem's and downsampling's norm (BN as the official model).
        pretrained (str, optional): a checkpoint path, as ``init_cfg=dict(type='Pretrained',
            checkpoint=pretrained)`` (mmseg passes its model's here).
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH[, prefix=..., use_ema=False])``
            loads mmcoc or official SecViT weights through ``checkpoint_filter_fn``.
    """
    arch_settings = {
        't': dict(embed_dims=[64, 128, 256, 512], depths=[2, 2, 9, 2],
                  num_heads=[2, 4, 8, 16], drop_path_rate=0.1),
        's': dict(embed_dims=[64, 128, 256, 512], depths=[3, 4, 18, 4],
                  num_heads=[2, 4, 8, 16], drop_path_rate=0.15),
        'b': dict(embed_dims=[80, 160, 320, 512], depths=[4, 8, 26, 8],
                  num_heads=[5, 5, 10, 16], drop_path_rate=0.4,
                  layer_scale=[False, False, True, True]),
        'l': dict(embed_dims=[112, 224, 448, 640], depths=[4, 8, 26, 8],
                  num_heads=[7, 7, 14, 20], drop_path_rate=0.5,
                  layer_scale=[False, False, True, True]),
    }
    arch_defaults = dict(num_clusters=[32, 8, 2, 1], mlp_ratio=3, drop_path_rate=0.1,
                         layer_scale=False)

    def __init__(self,
                 arch: Union[str, Dict] = 't',
                 num_clusters: Optional[Union[int, Sequence[int]]] = None,
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = -1,
                 norm_outputs: bool = True,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 drop_rate: float = 0.,
                 drop_path_rate: Optional[float] = None,
                 layer_scale_init_value: float = 1e-6,
                 norm_cfg: Dict = dict(type='BN'),
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[Union[Dict, Sequence[Dict]]] = None):
        check_regularisation(drop_path_rate, layer_scale_init_value)
        super().__init__(in_channels, out_indices, frozen_stages, norm_eval, pretrained,
                         init_cfg)
        self.arch = self.resolve_arch(arch, num_clusters=num_clusters,
                                      drop_path_rate=drop_path_rate)
        a = self.arch
        self.norm_outputs = norm_outputs
        self.with_cp = with_cp
        dims = self.embed_dims = a['embed_dims']

        self.patch_embed = ConvStem(in_channels, dims[0], norm_cfg)
        total = sum(a['depths'])
        # linear from 0 to the rate over all blocks, as torch.linspace (in Python: no tensor,
        # so the model also builds on the meta device)
        rates = [a['drop_path_rate'] * i / max(total - 1, 1) for i in range(total)]
        layers, index = [], 0
        for i in range(NUM_STAGES):
            blocks = []
            for _ in range(a['depths'][i]):
                blocks.append(SecViTBlock(
                    dims[i], a['num_heads'][i], a['num_clusters'][i], a['mlp_ratio'][i],
                    drop_rate, rates[index],
                    layer_scale_init_value if a['layer_scale'][i] else None))
                index += 1
            downsample = Downsample(dims[i], dims[i + 1], norm_cfg) if i < NUM_STAGES - 1 \
                else None
            layers.append(SecViTStage(blocks, downsample))
        self.layers = nn.ModuleList(layers)
        if norm_outputs:
            for i in self.out_indices:
                self.add_module(f'out_norm{i}', ChannelLayerNorm(dims[i]))
        self.apply(self._init_weights)
        self._freeze_stages()

    # ------------------------------------------------------------------ configuration
    @classmethod
    def resolve_arch(cls, arch, num_clusters=None, drop_path_rate=None) -> Dict:
        """Expand an arch name or dict to per-stage lists, checking every value."""
        arch = {**cls.arch_defaults, **cls._arch_dict(arch, cls.__name__, _ARCH_KEYS)}
        if num_clusters is not None:
            arch['num_clusters'] = num_clusters
        if drop_path_rate is not None:
            arch['drop_path_rate'] = drop_path_rate
        cls._check_arch_keys(arch, cls.__name__, _ARCH_KEYS)
        resolved = dict(drop_path_rate=float(arch['drop_path_rate']))
        for key in ('embed_dims', 'depths', 'num_heads', 'num_clusters', 'mlp_ratio',
                    'layer_scale'):
            value = cls._per_stage(key, arch[key])
            if key in ('embed_dims', 'num_heads', 'num_clusters') and not all(
                    isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in value):
                raise ValueError(f'arch[{key!r}] must hold positive ints, got {value}')
            if key == 'depths' and not all(isinstance(x, int) and x >= 0 for x in value):
                raise ValueError(f'arch["depths"] must hold ints >= 0, got {value}')
            if key == 'mlp_ratio' and not all(x > 0 for x in value):
                raise ValueError(f'arch["mlp_ratio"] must be positive, got {value}')
            resolved[key] = value
        for dim, heads in zip(resolved['embed_dims'], resolved['num_heads']):
            if dim % heads or (dim // heads) % 4:
                raise ValueError(f'embed dim {dim} with {heads} heads: the head dim must be an '
                                 'int divisible by 4 (2D rotary position encoding)')
        return resolved

    @staticmethod
    def _init_weights(m):
        # as the reference: every conv and linear truncated-normal(0.02) with zero bias
        init_trunc_normal(m, (nn.Conv2d, nn.Linear))

    # ------------------------------------------------------------------ forward
    def check_input(self, x: torch.Tensor):
        if is_fx_tracing():
            return  # a Proxy: its shape is known only when the traced graph runs
        self._check_image_batch(x, type(self).__name__)

    @property
    def built_stages(self) -> int:
        """Stages present (4, fewer after timm's ``prune_intermediate_layers``)."""
        return len(self.layers)

    def stage_blocks(self, stage: int) -> nn.ModuleList:
        return self.layers[stage].blocks

    def stage_entry(self, stage: int) -> Optional[nn.Module]:
        return self.layers[stage - 1].downsample if stage > 0 else None

    def stage_module_names(self) -> List[str]:
        """The module whose output is each stage's (un-normed) map: its last block."""
        return [f'layers.{i}.blocks.{len(stage.blocks) - 1}' if len(stage.blocks)
                else f'layers.{i}' for i, stage in enumerate(self.layers)]

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.patch_embed(x)

    def forward_stage(self, stage: int, x: torch.Tensor) -> torch.Tensor:
        """Stage ``stage``: the downsampling into it (stages 1-3), then its blocks, each under
        activation checkpointing with ``with_cp``."""
        if stage > 0:
            x = self.layers[stage - 1].downsample(x)
        return self.layers[stage].forward_blocks(x, self.with_cp)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        x = self.forward_stem(x)
        outs = []
        for i in range(self.built_stages):
            x = self.forward_stage(i, x)
            if i in self.out_indices:
                outs.append(getattr(self, f'out_norm{i}')(x) if self.norm_outputs else x)
        return tuple(outs)

    # ------------------------------------------------------------------ training state
    def _frozen_modules(self):
        frozen = [self.patch_embed]
        for i in range(self.frozen_stages):
            frozen.append(self.layers[i].blocks)
            if i > 0:
                frozen.append(self.layers[i - 1].downsample)
            if self.norm_outputs and i in self.out_indices:
                frozen.append(getattr(self, f'out_norm{i}'))
        return frozen

    def checkpoint_filter(self, init_cfg):
        return functools.partial(checkpoint_filter_fn, use_ema=init_cfg.get('use_ema', False))
