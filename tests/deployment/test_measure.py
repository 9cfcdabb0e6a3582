import torch
import torch.nn as nn
import torch.nn.functional as F

from mmcoc.deployment.measure import count_flops, count_step_flops


def test_step_flops_count_forward_and_both_backward_products():
    layer = nn.Linear(64, 32)
    x = torch.randn(10, 64, requires_grad=True)
    macs = 10 * 64 * 32
    assert count_step_flops(lambda: layer(x).sum().backward()) == 3 * macs
    # without an input gradient, backward makes only the weight's product
    assert count_step_flops(lambda: layer(x.detach()).sum().backward()) == 2 * macs
    assert count_flops(layer, (x.detach(), )) == macs  # the forward-only count agrees


def test_step_flops_count_products_written_in_place():
    a, b = torch.randn(5, 7), torch.randn(7, 3)
    ba, bb = torch.randn(4, 5, 7), torch.randn(4, 7, 3)

    def step():
        torch.zeros(5, 3).addmm_(a, b)
        torch.zeros(4, 5, 3).baddbmm_(ba, bb)
        torch.mm(a, b, out=torch.empty(5, 3))

    assert count_step_flops(step) == 5 * 7 * 3 + 4 * 5 * 7 * 3 + 5 * 7 * 3


def test_step_flops_count_a_grouped_convolutions_backward_as_its_forward():
    for groups in (1, 4, 16):  # dense, grouped, depthwise
        conv = nn.Conv2d(16, 16, 3, padding=1, groups=groups)
        x = torch.randn(2, 16, 8, 8, requires_grad=True)
        forward = 2 * 8 * 8 * 16 * (16 // groups) * 3 * 3
        assert count_flops(conv, (x.detach(), )) == forward
        assert count_step_flops(lambda: conv(x).sum().backward()) == 3 * forward
        assert count_step_flops(lambda: conv(x.detach()).sum().backward()) == 2 * forward
    transposed = nn.ConvTranspose2d(8, 4, 2, stride=2)
    x = torch.randn(2, 8, 5, 5, requires_grad=True)
    assert count_step_flops(lambda: transposed(x).sum().backward()) == 3 * 2 * 5 * 5 * 8 * 4 * 4


def test_step_flops_count_the_cpus_fused_attention():
    q, k, v = (torch.randn(2, 3, 16, 8, requires_grad=True) for _ in range(3))
    forward = 2 * 3 * 16 * 16 * (8 + 8)  # q k^T, weights v
    backward = 2 * 3 * 16 * 16 * (3 * 8 + 2 * 8)  # scores again, d weights, dv, dq, dk
    with torch.no_grad():
        assert count_step_flops(lambda: F.scaled_dot_product_attention(q, k, v)) == forward
    assert count_step_flops(
        lambda: F.scaled_dot_product_attention(q, k, v).sum().backward()) == forward + backward
