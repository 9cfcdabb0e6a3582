"""What every layer that assigns points to clusters offers the visualisation: the assignment of
its last forward pass, kept only when asked for (it costs memory and is not needed to train)."""
from typing import Callable, Optional

import torch


class RecordsAssignment:
    """Mixin of the clustering layers (``ContextClusterMixer``, ``ClusterPool``,
    ``SECAttention``): with ``keep_assignment = True``, each forward stores every point's
    cluster in ``last_assignment`` (``[B, heads, H, W]``, long)."""
    keep_assignment: bool = False
    last_assignment: Optional[torch.Tensor] = None

    def run_assigning(self, op: Callable, *args, grid=None, **kwargs):
        """``op(*args, **kwargs)``; when the assignment is kept, ``op`` also returns it (its
        ``return_assignment=True``) and it is stored, viewed as ``grid`` if given."""
        if not self.keep_assignment:
            return op(*args, **kwargs)
        out, assignment = op(*args, return_assignment=True, **kwargs)
        self.last_assignment = assignment if grid is None else assignment.view(*grid)
        return out
