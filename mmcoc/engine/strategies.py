"""mmengine's training strategies (``FlexibleRunner``) with mmcoc's two guarantees about the model:
checkpoints are read weights-only (``mmcoc.utils.load_checkpoint_file``: mmengine's strategies
read through ``CheckpointLoader``, whose http loader unpickles in full) and SyncBN becomes BN in
one process or without a GPU (``revert_sync_batchnorm``, as ``mmcoc.RecoverableRunner`` does).

``mmcoc.RecoverableFlexibleRunner`` puts ``mmcoc.SingleDeviceStrategy``, ``mmcoc.DDPStrategy`` or
``mmcoc.FSDPStrategy`` in place of mmengine's of the same name; each is mmengine's, with
``build_model``, ``load_checkpoint`` and ``model_state_dict`` extended (pinned in
``tests/engine/test_upstream_pins``); FSDP's gradients are clipped by their whole norm and its
optimizer state is loaded as torch 2 expects.
"""
import contextlib
import functools
import os.path as osp

import torch
from mmengine._strategy import DDPStrategy as MMEngineDDPStrategy
from mmengine._strategy import FSDPStrategy as MMEngineFSDPStrategy
from mmengine._strategy import SingleDeviceStrategy as MMEngineSingleDeviceStrategy
from mmengine.device import get_device
from mmengine.dist import get_rank
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapperDict
from mmengine.runner.checkpoint import weights_to_cpu
from torch.distributed.fsdp import FullyShardedDataParallel

from mmcoc.registry import FUNCTIONS, STRATEGIES
from mmcoc.utils.checkpoint import load_checkpoint_file
from mmcoc.utils.config import batch_norm_for_machine
from mmcoc.utils.weights_fit import checked_load, read_host_pretrained


class _WeightsOnlyModelLoading:
    trust_checkpoint = False  # RecoverableFlexibleRunner sets it from --trust-checkpoint

    def build_model(self, model):
        model = batch_norm_for_machine(super().build_model(model), self.distributed)
        read_host_pretrained(model, self.trust_checkpoint)  # initialised next, in prepare
        return model

    def load_checkpoint(self, filename: str, *, map_location='cpu', strict: bool = False,
                        revise_keys: list = [(r'^module.', '')], callback=None) -> dict:
        # SingleDeviceStrategy.load_checkpoint, reading with mmcoc's weights-only reader
        self.logger.info(f'Load checkpoint from {filename}')
        checkpoint = load_checkpoint_file(
            filename, map_location=get_device() if map_location == 'default' else map_location,
            trust=self.trust_checkpoint)
        if callback is not None:
            callback(checkpoint)
        # CheckpointFitHook (the callback's) checked the whole checkpoint; under FSDP a backbone
        # would see its weights in FSDP's names and its own check would refuse them
        with checked_load() if is_sharded(self.model) else contextlib.nullcontext():
            self.load_model_state_dict(checkpoint.pop('state_dict'), strict=strict,
                                       revise_keys=revise_keys)
        return checkpoint

    def model_state_dict(self) -> dict:
        # the model's own names, as Runner writes them (mmengine's DDPStrategy keeps DDP's
        # 'module.' prefix): one layout for tools/test.py, the apis, the converters and timm
        if is_model_wrapper(self.model) and not is_sharded(self.model):
            return weights_to_cpu(self.model.module.state_dict())
        return super().model_state_dict()


@STRATEGIES.register_module()
class SingleDeviceStrategy(_WeightsOnlyModelLoading, MMEngineSingleDeviceStrategy):
    pass


@STRATEGIES.register_module()
class DDPStrategy(_WeightsOnlyModelLoading, MMEngineDDPStrategy):
    pass


@STRATEGIES.register_module()
class FSDPStrategy(_WeightsOnlyModelLoading, MMEngineFSDPStrategy):

    def load_checkpoint(self, filename: str, **kwargs) -> dict:
        # a sharded ('local') checkpoint is a folder of one file per rank, as mmengine writes it
        if not self._is_full_state_dict():
            filename = osp.join(filename, f'rank{get_rank()}.pth')
        return super().load_checkpoint(filename, **kwargs)

    def build_optim_wrapper(self, optim_wrapper, model=None):
        wrapper = super().build_optim_wrapper(optim_wrapper, model)
        # clip by the norm of the whole gradient: torch's clip_grad_norm_ would see this rank's
        # shards only, and each rank would scale its shard by another factor
        for each in (wrapper.values() if isinstance(wrapper, OptimWrapperDict) else [wrapper]):
            if getattr(each, 'clip_func', None) is torch.nn.utils.clip_grad_norm_:
                each.clip_func = functools.partial(_clip_sharded_grad_norm, self.model)
        return wrapper

    def load_optim_state_dict(self, state_dict: dict) -> None:
        # mmengine 0.10.7 passes the arguments in torch 1.x's order (state dict first), which
        # torch 2 reads as the model: every FSDP resume failed ('unhashable type: dict')
        self.optim_wrapper.load_state_dict(FullyShardedDataParallel.optim_state_dict_to_load(
            model=self.model, optim=self.optim_wrapper.optimizer, optim_state_dict=state_dict))


@FUNCTIONS.register_module()
def wrap_clustering_blocks(module, recurse: bool, nonwrapped_numel: int,
                           min_num_params: int = 0) -> bool:
    """FSDP auto-wrap policy (``strategy.model_wrapper.auto_wrap_policy=dict(
    type='mmcoc.wrap_clustering_blocks')``): one FSDP unit per block of the clustering backbones
    (CoC, FEC, SecViT), the rest of the model in the root unit. A size-based policy may wrap a
    whole stage, whose blocks the backbone calls one by one (each under ``with_cp``): they
    would run on sharded weights."""
    from mmcoc.models.backbones.context_cluster import ClusterBlock
    from mmcoc.models.backbones.secvit import SecViTBlock
    return recurse or (isinstance(module, (ClusterBlock, SecViTBlock))
                       and nonwrapped_numel >= min_num_params)


def _clip_sharded_grad_norm(model, params, max_norm, norm_type=2.0, **_):
    return model.clip_grad_norm_(max_norm, norm_type)


def is_sharded(model) -> bool:
    """Whether ``model`` is wrapped by FSDP (its modules hold flat shards of the weights)."""
    return isinstance(model, FullyShardedDataParallel)


@contextlib.contextmanager
def full_weights(model):
    """Inside, the modules of a sharded ``model`` hold their whole weights (read-only), so that
    a hook may call them outside the wrapper's forward; every rank must enter (a collective).
    Other models are left as they are."""
    if is_sharded(model):
        with FullyShardedDataParallel.summon_full_params(model, writeback=False):
            yield
    else:
        yield
