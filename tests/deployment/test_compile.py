"""torch.compile of the three backbones (tiny variants, dynamo tracing only: no code is
generated, so this runs in seconds on a CPU)."""
import pytest
import torch

from mmcoc.deployment.compile import compile_support, count_compiles, explain

from .tiny_models import tiny_backbone

pytestmark = pytest.mark.slow  # subprocesses, exports, compiles or docs: make test-fast skips

# The sizes of a zero-padded detection batch: dividing into the folds and not, landscape and
# portrait. Not square first: torch's duck sizing would give H and W one symbol (a guard H == W).
SIZES = [(2, 3, 96, 128), (2, 3, 64, 64), (2, 3, 75, 101), (2, 3, 88, 70)]


@pytest.mark.parametrize('name', ['coc', 'secvit', 'fec'])
def test_one_graph_without_breaks(name):
    result = explain(tiny_backbone(name), torch.randn(2, 3, 64, 64))
    assert (result['graphs'], result['breaks']) == (1, 0), result['reasons']


@pytest.mark.parametrize('name', ['coc', 'secvit', 'fec'])
def test_batch_size_change_does_not_recompile(name):
    # batch 1 is specialised by dynamo for every model (0/1 specialisation): 2, 3, 4 here
    shapes = [(b, 3, 64, 64) for b in (2, 3, 4)]
    assert count_compiles(tiny_backbone(name), shapes, mark_batch_dynamic=True) == 1


@pytest.mark.parametrize('name', ['coc', 'secvit', 'fec'])
def test_dynamic_height_width_do_not_recompile(name):
    assert count_compiles(tiny_backbone(name), SIZES, dynamic=True) == 1


@pytest.mark.parametrize('name', ['coc', 'secvit', 'fec'])
def test_compiled_graph_equals_eager(name):
    # the traced graph takes the padded path at every size: it must equal eager's choice
    model = tiny_backbone(name)
    compiled = torch.compile(model, backend='eager', dynamic=True)
    torch._dynamo.reset()
    try:
        for shape in SIZES[:3]:
            x = torch.randn(shape)
            with torch.no_grad():
                for got, ref in zip(compiled(x), model(x)):
                    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-5)
    finally:
        torch._dynamo.reset()


def test_compile_support_names_what_is_missing(monkeypatch):
    assert compile_support('cpu', backend='eager') is None
    monkeypatch.setattr('shutil.which', lambda name: None)
    message = compile_support('cpu')
    assert 'C++ compiler' in message and 'aot_eager' in message
    if not torch.cuda.is_available():
        assert compile_support('cuda') == 'CUDA is not available'
