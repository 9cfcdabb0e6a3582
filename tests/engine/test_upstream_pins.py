"""The mmengine code that mmcoc's engine relies on, pinned by a hash of its source.

mmcoc changes no mmengine object; it relies on what these do (in this order), and replaces
``Runner.load_checkpoint`` (and its strategies' ``load_checkpoint``) with its own reader. A new
mmengine that changes any of them fails here, naming it: re-check what the reason says against
the new source, then update the hash (and the tested range in ``pyproject.toml``)."""
import hashlib
import importlib
import inspect

import pytest

PINS = {
    # ExactResumeHook: before_train is called before the first fetch, `self.dataloader` is
    # iterated once per epoch (enumerate), validation follows run_epoch
    'mmengine.runner.loops.EpochBasedTrainLoop.run': '51ae20508b4d459f',
    'mmengine.runner.loops.EpochBasedTrainLoop.run_epoch': '5a9b993c3e9727d4',
    # ExactResumeHook: `self.dataloader_iterator` is used only after before_train, and the
    # trained batches are fetched (and dropped) through it on a resume
    'mmengine.runner.loops.IterBasedTrainLoop.run': 'f5de0b5cf6e25e3b',
    # ExactResumeHook._validation_due: the loops' validation rule (in their `run` above) with
    # the interval these pick from the dynamic schedule
    'mmengine.runner.loops.EpochBasedTrainLoop._decide_current_val_interval': '51b1db1aa2338c08',
    'mmengine.runner.loops.IterBasedTrainLoop._decide_current_val_interval': 'c08db29129b36e10',
    # ReseedingLoader.infinite: a new pass over the loader after the last batch, with the
    # pass number given to the sampler's (or the batch sampler's sampler's) set_epoch
    'mmengine.runner.loops._InfiniteDataloaderIterator.__next__': '51b394dfa538cf7e',
    # the atomic backend: the dropped checkpoint is removed through `file_backend` before the
    # new one is saved; `last_checkpoint` is written after the save
    'mmengine.hooks.CheckpointHook._save_checkpoint_with_step': 'cdbc1b54c7c88d95',
    # the atomic backend: a checkpoint is written with one `file_backend.put`
    'mmengine.runner.checkpoint.save_checkpoint': '7f60c6ca167fd4dd',
    # RecoverableRunner.load_checkpoint does what this does, reading with mmcoc's reader
    'mmengine.runner.Runner.load_checkpoint': 'bebf88cd7097d2f1',
    # RankZeroLoggerHook: the test metrics are dumped here, by every rank
    'mmengine.hooks.LoggerHook.after_test_epoch': '5ad00e76b6e8f817',
    # mmcoc's strategies (engine/strategies.py): their load_checkpoint does what this does,
    # reading with mmcoc's reader; FSDP's maps a sharded checkpoint to its rank's file as this
    'mmengine._strategy.SingleDeviceStrategy.load_checkpoint': 'a27c67cdeefd19b7',
    'mmengine._strategy.FSDPStrategy.load_checkpoint': '52631a603ea36a1c',
    # model_state_dict keeps the wrapper's names ('module.'): mmcoc's saves the model's own
    'mmengine._strategy.BaseStrategy.model_state_dict': '07685cb4ec2abbf1',
    # passes torch 1.x's argument order: mmcoc's FSDPStrategy loads the optimizer state itself
    'mmengine._strategy.FSDPStrategy.load_optim_state_dict': 'cd4df4cbc6655fa1',
    # calls `self.clip_func(params, **clip_grad_kwargs)`: FSDP's clip_func is the model's own
    'mmengine.optim.OptimWrapper._clip_grad': 'a3d132f6d5e8116f',
    # the strategy prepares (wraps) the model before load_or_resume, and the train loop's
    # before_train hooks (ClusterVisualizationHook's first drawing) run after both
    'mmengine.runner.FlexibleRunner.train': '7dd364fa16fe0ecf',
}


def resolve(dotted):
    parts = dotted.split('.')
    for cut in range(len(parts) - 1, 0, -1):
        try:
            target = importlib.import_module('.'.join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            target = getattr(target, name)
        return target
    raise ImportError(dotted)


@pytest.mark.parametrize('name', sorted(PINS))
def test_mmengine_code_mmcoc_relies_on_is_the_tested_one(name):
    import mmengine
    digest = hashlib.sha256(inspect.getsource(resolve(name)).encode()).hexdigest()[:16]
    assert digest == PINS[name], (
        f'{name} of mmengine {mmengine.__version__} is not the code mmcoc was tested with '
        f'(mmengine 0.10.7): re-check mmcoc.engine against it (see the comment above its pin '
        f'in {__file__}), then update the pin')
