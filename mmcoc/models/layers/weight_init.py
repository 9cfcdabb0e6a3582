import torch.nn as nn


def init_trunc_normal(m: nn.Module, types):
    """Truncated-normal(0.02) weights and zero bias for a module of ``types``, as the reference
    implementations initialise; ``model.apply(partial(init_trunc_normal, types=...))``."""
    if isinstance(m, types):
        nn.init.trunc_normal_(m.weight, std=.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
