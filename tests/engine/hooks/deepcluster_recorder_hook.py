"""Test helper: right after DeepClusterHook re-clusters (lower priority, so later), every rank
saves what the re-clustering left behind: the model's pseudo-labels, the head, which head
parameters still have optimizer state, the sampler's labels and this epoch's indices."""
import os

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class DeepClusterRecorderHook(Hook):
    priority = 'LOW'

    def before_train_epoch(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        sampler = runner.train_dataloader.sampler
        state = runner.optim_wrapper.optimizer.state
        record = dict(
            pseudo_labels=model.pseudo_labels.clone(),
            head={k: v.detach().clone() for k, v in model.head.state_dict().items()},
            head_params_with_state=sum(p in state for p in model.head.parameters()),
            backbone_params_with_state=sum(p in state for p in model.backbone.parameters()),
            sampler_labels=torch.from_numpy(sampler.labels.copy()),
            rank_indices=torch.tensor(list(iter(sampler))))
        torch.save(record, os.path.join(runner.work_dir,
                                        f'rank{get_rank()}_epoch{runner.epoch}.pth'))
