"""The Context-Cluster backbone as the official code computes it, for the tests and benchmarks.

One module per official computation, channels-first throughout: ``f``, ``v`` and ``proj`` as
1x1 convolutions on ``[B, C, H, W]``, the clustering op of ``naive_context_cluster`` (its
``[groups, centers, points, dim]`` products), the MLP as ``Linear`` layers on a permuted map,
layer scales as ``x + scale * branch``, GroupNorm(1), a 4x4 point reducer into the first stage
and 3x3 stride-2 reducers between stages; positions ``(i / (H - 1) - 0.5, j / (W - 1) - 0.5)``
appended to the image. Its state dict has the official keys (the flat ``network`` layout);
``network_layout(model.state_dict())`` gives it an ``mmcoc.ContextCluster``'s weights, so one
set of weights runs in both: the yardstick of the backbone's outputs and gradients in
``tests/models/backbones``, and the "official formulation" rows of
``tools/analysis_tools/benchmark_backbone.py``. Maps must divide into each stage's regions, as
the official code asserts. Do not use it in a model.
"""
from typing import Dict, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .naive_cluster import naive_context_cluster


class _Mixer(nn.Module):

    def __init__(self, dim, heads, head_dim, proposals, folds, normalizer):
        super().__init__()
        self.f = nn.Conv2d(dim, heads * head_dim, 1)
        self.v = nn.Conv2d(dim, heads * head_dim, 1)
        self.proj = nn.Conv2d(heads * head_dim, dim, 1)
        self.sim_alpha = nn.Parameter(torch.ones(1))
        self.sim_beta = nn.Parameter(torch.zeros(1))
        self.heads, self.proposals, self.folds, self.normalizer = (heads, proposals, folds,
                                                                   normalizer)

    def forward(self, x):
        return self.proj(naive_context_cluster(
            self.f(x), self.v(x), self.sim_alpha, self.sim_beta, self.heads, self.proposals,
            self.folds, self.normalizer))


class _Mlp(nn.Module):

    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x.permute(0, 2, 3, 1)))).permute(0, 3, 1, 2)


class _Block(nn.Module):

    def __init__(self, dim, mlp_ratio, heads, head_dim, proposals, folds, normalizer):
        super().__init__()
        self.norm1 = nn.GroupNorm(1, dim)
        self.token_mixer = _Mixer(dim, heads, head_dim, proposals, folds, normalizer)
        self.norm2 = nn.GroupNorm(1, dim)
        self.mlp = _Mlp(dim, int(dim * mlp_ratio))
        self.layer_scale_1 = nn.Parameter(torch.full((dim, ), 1e-5))
        self.layer_scale_2 = nn.Parameter(torch.full((dim, ), 1e-5))

    def forward(self, x):
        x = x + self.layer_scale_1.unsqueeze(-1).unsqueeze(-1) * self.token_mixer(self.norm1(x))
        return x + self.layer_scale_2.unsqueeze(-1).unsqueeze(-1) * self.mlp(self.norm2(x))


class OfficialContextCluster(nn.Module):
    """The dense (``fork_feat``) official backbone for an arch of ``ContextCluster``
    (``ContextCluster.resolve_arch(name)``); returns the normed maps of all four stages."""

    def __init__(self, arch: Dict[str, Sequence], normalizer: str = 'similarity'):
        super().__init__()
        dims = arch['embed_dims']
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(5, dims[0], 4, 4)
        network = []
        for i in range(4):
            if i > 0:
                reducer = nn.Module()
                reducer.proj = nn.Conv2d(dims[i - 1], dims[i], 3, 2, 1)
                network.append(reducer)
            network.append(nn.Sequential(*[
                _Block(dims[i], arch['mlp_ratios'][i], arch['heads'][i], arch['head_dim'][i],
                       arch['proposals'][i], arch['folds'][i], normalizer)
                for _ in range(arch['layers'][i])]))
        self.network = nn.ModuleList(network)
        for i in range(4):
            self.add_module(f'norm{2 * i}', nn.GroupNorm(1, dims[i]))

    def forward(self, x):
        n, _, h, w = x.shape
        rows = torch.arange(h, dtype=torch.float32) / (h - 1.0) - 0.5
        cols = torch.arange(w, dtype=torch.float32) / (w - 1.0) - 0.5
        pos = torch.stack(torch.meshgrid(rows, cols, indexing='ij')).to(x)
        x = self.patch_embed.proj(torch.cat([x, pos.expand(n, -1, -1, -1)], dim=1))
        outs = []
        for index, layer in enumerate(self.network):
            x = layer.proj(x) if index % 2 else layer(x)
            if index % 2 == 0:
                outs.append(getattr(self, f'norm{index}')(x))
        return tuple(outs)
