"""What the four-stage clustering backbones (ContextCluster and its FEC, SecViT) share: stage
selection, freezing, norm_eval, loading a ``Pretrained`` init_cfg through their own checkpoint
filter, and the timm classifier head built on their last map."""
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from mmcoc.models.layers.assignment import RecordsAssignment
from mmcoc.utils.weights_fit import (
    check_fit,
    checked_load,
    is_checked_load,
    load_weights,
    under_prefix,
)


def check_regularisation(drop_path_rate=None, layer_scale_init_value=None):
    """Stop on a drop-path rate outside [0, 1) or a negative layer scale, which would otherwise
    be clamped by DropPath or flip the sign of every residual branch without a word."""
    if drop_path_rate is not None and not 0 <= drop_path_rate < 1:
        raise ValueError(f'drop_path_rate must be in [0, 1) (the probability of dropping a '
                         f'residual branch), got {drop_path_rate}')
    if layer_scale_init_value is not None and layer_scale_init_value < 0:
        raise ValueError(f'layer_scale_init_value must be >= 0 (a small positive scale such '
                         f'as 1e-5, or 0), got {layer_scale_init_value}')


class ClusteringBackbone(BaseModule):
    """Base of a backbone with ``num_stages`` stages, ``out_indices``, ``frozen_stages`` and
    ``norm_eval``. A subclass lists what each frozen stage holds (``_frozen_modules``) and maps
    checkpoints onto its names (``checkpoint_filter``)."""
    num_stages = 4

    def __init__(self, in_channels: int, out_indices, frozen_stages: int, norm_eval: bool,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[Union[Dict, Sequence[Dict]]] = None):
        if pretrained is not None:
            # mmseg's EncoderDecoder hands the model-level ``pretrained`` to its backbone.
            if init_cfg is not None:
                raise ValueError('give the checkpoint either as pretrained or in init_cfg, '
                                 'not both')
            init_cfg = dict(type='Pretrained', checkpoint=pretrained)
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.out_indices = self._resolve_out_indices(out_indices)
        if not -1 <= frozen_stages <= self.num_stages:
            raise ValueError(f'frozen_stages must be in [-1, {self.num_stages}], got '
                             f'{frozen_stages}')
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

    # ------------------------------------------------------------------ configuration
    @classmethod
    def _arch_dict(cls, arch, family: str, keys: Sequence[str]) -> Dict:
        """A copy of the arch dict ``arch`` names (a key of ``arch_settings``) or is."""
        if isinstance(arch, str):
            if arch not in cls.arch_settings:
                raise KeyError(f'Unknown {family} arch {arch!r}; known archs: '
                               f'{", ".join(cls.arch_settings)} (or pass a dict with the keys '
                               f'{", ".join(keys)})')
            arch = cls.arch_settings[arch]
        if not isinstance(arch, dict):
            raise TypeError(f'arch must be a str or dict, got {type(arch).__name__}')
        check_regularisation(arch.get('drop_path_rate'))
        return dict(arch)

    @staticmethod
    def _check_arch_keys(arch: Dict, family: str, keys: Sequence[str]):
        missing = [k for k in keys if k not in arch]
        unknown = [k for k in arch if k not in keys]
        if missing or unknown:
            raise KeyError(f'{family} arch dict: missing keys {missing}, unknown keys '
                           f'{unknown}; expected {list(keys)}')

    @classmethod
    def _per_stage(cls, key: str, value) -> List:
        """``arch[key]`` as one value per stage; a single value serves every stage."""
        value = [value] * cls.num_stages if isinstance(value, (int, float)) else list(value)
        if len(value) != cls.num_stages:
            raise ValueError(f'arch[{key!r}] needs one value per stage ({cls.num_stages}), '
                             f'got {value}')
        return value

    # ------------------------------------------------------------------ forward
    def _check_image_batch(self, x, family: str, note: str = ''):
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != self.in_channels:
            shape = list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(
                f'{family} expects images as a [N, {self.in_channels}, H, W] tensor{note}; got '
                f'{shape}. Convert gray or RGBA images to RGB in the data pipeline.')

    def _resolve_out_indices(self, out_indices):
        if isinstance(out_indices, int):
            out_indices = [out_indices]
        resolved = []
        for index in out_indices:
            if not -self.num_stages <= index < self.num_stages:
                raise ValueError(f'out_indices must be stage indices in '
                                 f'[0, {self.num_stages - 1}] (or negative), got {index}')
            resolved.append(index % self.num_stages)
        if len(set(resolved)) != len(resolved):
            raise ValueError(f'out_indices repeats a stage: {out_indices}; name each stage '
                             'once')
        if resolved != sorted(resolved):
            # the necks take the maps in the order given and would pair them with the wrong
            # in_channels if they were reordered silently
            raise ValueError(f'out_indices must list the stages in increasing order, got '
                             f'{out_indices} (stages {resolved}); write {sorted(resolved)}')
        return tuple(resolved)

    # ------------------------------------------------------------------ training state
    def cluster_sites(self) -> List[Tuple[int, Optional[int], nn.Module]]:
        """``(stage, block, layer)`` of every clustering layer (``RecordsAssignment``), in
        forward order, from the subclass's ``stage_entry``/``stage_blocks``: a layer in the
        downsampling into stage ``s`` (FEC's ``ClusterPool``) has block ``None`` and belongs
        to ``s``, the stage whose points it makes."""
        sites = []
        for stage in range(self.built_stages):
            entry = self.stage_entry(stage)
            parts = ([(None, entry)] if entry is not None else []) + list(
                enumerate(self.stage_blocks(stage)))
            for block, part in parts:
                sites += [(stage, block, m) for m in part.modules()
                          if isinstance(m, RecordsAssignment)]
        return sites

    def _frozen_modules(self) -> List[nn.Module]:
        """The modules of the stem and of stages ``0 .. frozen_stages - 1`` (``frozen_stages``
        is at least 0 when this is called)."""
        raise NotImplementedError

    def _freeze_stages(self):
        if self.frozen_stages < 0:
            return
        for module in self._frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        # train() puts every module back in training mode, the frozen ones included
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    # ------------------------------------------------------------------ weights
    def checkpoint_filter(self, init_cfg: Dict) -> Callable:
        """``filter(state_dict, model)`` mapping a checkpoint onto this model's names, with the
        options the ``Pretrained`` init_cfg gives."""
        raise NotImplementedError

    def upgrade_state_dict(self, state_dict: Dict, prefix: str, version: Optional[int]):
        """Rename, in place, the keys under ``prefix`` that an older layout of this backbone
        gives its tensors (``version``: the layout the state dict records for it, or ``None``).
        Torch's loading calls it for this module (``_load_from_state_dict``), the fit policy for
        every module of the model it measures (``mmcoc.utils.weights_fit.current_layout``)."""

    def init_weights(self):
        init_cfg = self.init_cfg if isinstance(self.init_cfg, dict) else None
        if init_cfg is not None and init_cfg.get('type') == 'Pretrained':
            # mmengine's own Pretrained init knows neither the official layouts nor EMA weights
            with checked_load():
                load_weights(self, init_cfg['checkpoint'], self.checkpoint_filter(init_cfg),
                             prefix=init_cfg.get('prefix'),
                             logger=MMLogger.get_current_instance())
            self._is_init = True
            return
        super().init_weights()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        # Upstream loaders (mmdet's init_detector, mmseg's init_model, mmpretrain's get_model,
        # mmengine's load_checkpoint) only warn when a checkpoint does not fit and run on with
        # random weights; torch hands every module the whole state dict with its prefix, so the
        # backbone can refuse a checkpoint of another model before anything is copied.
        self.upgrade_state_dict(state_dict, prefix, local_metadata.get('version'))
        if not is_checked_load():
            self._check_incoming(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def _check_incoming(self, state_dict, prefix: str):
        incoming = under_prefix(state_dict, prefix)
        if not incoming:
            # torch and mmengine hand a module only the keys under its prefix, so a backbone's
            # bare state dict given for a whole model is seen (and refused) at the top: by
            # CheckpointFitHook, mmcoc.MemoryBoundedEncoderDecoder and mmcoc.apis.load_model
            return
        check_fit('', incoming, self, whole=False,
                  subject=f'the checkpoint does not fit this {type(self).__name__} backbone '
                          f'({prefix or "top level"})',
                  fix='The checkpoint is of another architecture or variant: check the arch of '
                      'the config.')
        for key, value in incoming.items():
            if (isinstance(value, torch.Tensor) and value.is_floating_point()
                    and not bool(torch.isfinite(value).all())):
                raise ValueError(f'the checkpoint holds NaN or Inf values in {prefix + key!r}: '
                                 'the training that wrote it diverged. Use an earlier one.')
