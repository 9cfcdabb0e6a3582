"""``mmcoc.RecoverableRunner``: mmengine's ``Runner`` with the guarantees mmcoc adds to a run.

A config asks for it with ``runner_type='mmcoc.RecoverableRunner'`` (the project's configs do,
through ``configs/_base_/mmcoc_runtime.py``), so mmdet's, mmseg's and mmpretrain's own
``tools/train.py`` build it as ``tools/train.py`` here does. Against the plain ``Runner``:
- the config is adapted to the machine (``adapt_to_machine``: gloo, BN for SyncBN and CPU DDP
  without a GPU) and a CPU ``pytorch`` launch gets its gloo process group;
- training resumes exactly and checkpoints are written atomically and as plain data
  (``make_recoverable``: the loops and hooks of ``mmcoc.engine.recovery``);
- checkpoints (``load_from``, ``resume``) are read weights-only
  (``mmcoc.utils.load_checkpoint_file``): pickled objects are unpickled only when the config
  says ``trust_checkpoint=True`` (the tools' ``--trust-checkpoint``) or
  ``MMCOC_TRUST_CHECKPOINTS=1`` is set.
"""
import copy

from mmengine.config import Config
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint_to_model

from mmcoc.registry import RUNNERS
from mmcoc.utils.checkpoint import load_checkpoint_file
from .recovery import make_recoverable
from .runtime import adapt_to_machine, init_distributed


@RUNNERS.register_module()
class RecoverableRunner(Runner):
    trust_checkpoint = False

    @classmethod
    def from_cfg(cls, cfg: Config) -> 'RecoverableRunner':
        cfg = copy.deepcopy(cfg)
        launcher = cfg.get('launcher', 'none')
        trust = bool(cfg.pop('trust_checkpoint', False))
        adapt_to_machine(cfg, launcher)
        make_recoverable(cfg)
        init_distributed(launcher)
        runner = super().from_cfg(cfg)
        runner.trust_checkpoint = trust
        return runner

    def load_checkpoint(self, filename: str, map_location='cpu', strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]):
        # mmengine's body, reading the file through mmcoc's weights-only reader
        checkpoint = load_checkpoint_file(filename, map_location=map_location,
                                          trust=self.trust_checkpoint)
        self._loading = filename  # named by CheckpointFitHook's messages
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        checkpoint = _load_checkpoint_to_model(model, checkpoint, strict,
                                               revise_keys=revise_keys)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint
