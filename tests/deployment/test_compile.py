"""torch.compile of the three backbones (tiny variants, dynamo tracing only: no code is
generated, so this runs in seconds on a CPU)."""
import pytest
import torch

from mmcoc.deployment.compile import compile_support, count_compiles, explain

from .tiny_models import tiny_backbone

# The clustering layers decide in Python whether a map divides into its regions (pads it or
# not), so a symbolic height/width gets guards on its divisibility and each kind of size
# compiles again.
PADDED_BRANCH = pytest.mark.xfail(
    reason='clustering layers branch on H % folds in Python: needs the always-pad-when-'
    'compiling change in mmcoc/models/layers (docs/deploy.md)', strict=True, run=False)


@pytest.mark.parametrize('name', ['coc', 'secvit', 'fec'])
def test_one_graph_without_breaks(name):
    result = explain(tiny_backbone(name), torch.randn(2, 3, 64, 64))
    assert (result['graphs'], result['breaks']) == (1, 0), result['reasons']


@pytest.mark.parametrize('name', ['coc', 'secvit'])
def test_batch_size_change_does_not_recompile(name):
    # batch 1 is specialised by dynamo for every model (0/1 specialisation): 2, 3, 4 here
    shapes = [(b, 3, 64, 64) for b in (2, 3, 4)]
    assert count_compiles(tiny_backbone(name), shapes, mark_batch_dynamic=True) == 1


@PADDED_BRANCH
@pytest.mark.parametrize('name', ['coc'])
def test_dynamic_height_width_do_not_recompile(name):
    # the sizes of a zero-padded detection batch: divisible and not, landscape and portrait
    shapes = [(2, 3, 64, 64), (2, 3, 96, 128), (2, 3, 75, 101), (2, 3, 88, 70)]
    assert count_compiles(tiny_backbone(name), shapes, dynamic=True) == 1


def test_compile_support_names_what_is_missing(monkeypatch):
    assert compile_support('cpu', backend='eager') is None
    monkeypatch.setattr('shutil.which', lambda name: None)
    message = compile_support('cpu')
    assert 'C++ compiler' in message and 'aot_eager' in message
    if not torch.cuda.is_available():
        assert compile_support('cuda') == 'CUDA is not available'
