"""stable_bilinear_resize: F.interpolate's bilinear rule with exact weights before one rounding."""
import pytest
import torch
import torch.nn.functional as F

from mmcoc.models.layers import stable_bilinear_resize

# ratios that are no power of two (the sizes a Semantic FPN meets at inputs no stride divides),
# an unchanged side, a single pixel, a shrink
SIZES = [(491, 549), (122, 137), (123, 138), (1, 1), (5, 300), (40, 20)]


@pytest.mark.parametrize('align_corners', [False, True])
@pytest.mark.parametrize('size', SIZES)
def test_float64_equals_interpolate(size, align_corners):
    x = torch.randn(2, 3, 123, 138, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ref = F.interpolate(x, size=size, mode='bilinear', align_corners=align_corners)
    out = stable_bilinear_resize(x, size, align_corners)
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize('align_corners', [False, True])
def test_float32_stays_within_the_rounding_of_the_map(align_corners):
    # neighbours differing by tens, as random-weight logits do: float32 source coordinates
    # would move the result by far more than the map's own rounding (about 2e-6 here)
    x = 10 * torch.randn(1, 8, 123, 138, dtype=torch.float64,
                         generator=torch.Generator().manual_seed(1))
    exact = F.interpolate(x, size=(491, 549), mode='bilinear', align_corners=align_corners)
    out = stable_bilinear_resize(x.float(), (491, 549), align_corners)
    assert out.dtype == torch.float32
    assert (out.double() - exact).abs().max() < 2e-5


def test_a_map_that_is_not_nchw_is_refused():
    with pytest.raises(ValueError, match=r'\[N, C, H, W\] map, got \[3, 10, 10\]'):
        stable_bilinear_resize(torch.zeros(3, 10, 10), (20, 20))
