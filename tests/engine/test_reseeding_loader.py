"""ReseedingLoader's iteration-based passes start a new sampler epoch as mmengine's own
infinite iterator does, wherever the loader keeps its sampler."""
from mmengine.dataset import DefaultSampler
from torch.utils.data import BatchSampler, DataLoader

from mmcoc.engine.recovery import ReseedingLoader


class _Runner:
    seed = 3


def _order(sampler, epoch):
    sampler.set_epoch(epoch)
    return list(sampler)


def test_each_pass_is_a_new_sampler_epoch_also_behind_a_batch_sampler():
    data = list(range(8))
    # as Runner.build_dataloader builds a loader with a batch sampler (mmdet's aspect-ratio
    # one): `loader.sampler` is torch's default, the shuffling sampler is the batch sampler's
    for with_batch_sampler in (False, True):
        sampler = DefaultSampler(data, shuffle=True, seed=0)
        if with_batch_sampler:
            loader = DataLoader(data, batch_sampler=BatchSampler(sampler, 8, False),
                                collate_fn=list)
        else:
            loader = DataLoader(data, batch_size=8, sampler=sampler, collate_fn=list)
        expected = [_order(DefaultSampler(data, shuffle=True, seed=0), e) for e in range(3)]
        assert expected[0] != expected[1] != expected[2]
        sampler.set_epoch(0)
        batches = ReseedingLoader(loader, _Runner(), by_epoch=False).infinite()
        assert [next(batches) for _ in range(3)] == expected, with_batch_sampler
