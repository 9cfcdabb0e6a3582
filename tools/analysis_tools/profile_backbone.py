"""Where a clustering backbone's training time goes: forward + backward of each stage, by kind of
operation, from torch's profiler. Prints a markdown table (milliseconds per stage and kind).

Each stage (with the point reducer into it; stage 0 with the point embedding) runs on its own
input, taken from one forward of the whole backbone, with a random gradient on its output;
the profiler's self times of one run after a warm-up are summed by kind.

    python tools/analysis_tools/profile_backbone.py                     # CoC-small, 1x3x800x1216
    python tools/analysis_tools/profile_backbone.py --arch medium --size 512 768 --threads 1
"""
import argparse
import platform
from collections import defaultdict

import torch
from torch.profiler import ProfilerActivity, profile

from mmcoc.utils import cli

# kind -> the aten operators counted under it (self time); everything else is 'other'
KINDS = {
    'products (mm, addmm, bmm)': ('aten::mm', 'aten::addmm', 'aten::addmm_', 'aten::bmm'),
    'point reducers (convolutions)': ('aten::mkldnn_convolution', 'aten::convolution_backward',
                                      'aten::_slow_conv2d_forward',
                                      'aten::_slow_conv2d_backward'),
    'layout copies': ('aten::copy_', 'aten::cat', 'aten::clone'),
    'GroupNorm': ('aten::native_group_norm', 'aten::native_group_norm_backward',
                  'aten::var_mean', 'aten::rsqrt'),
    'GELU': ('aten::gelu', 'aten::gelu_backward'),
    'clustering (scatter, gather, argmax)': (
        'aten::index_add', 'aten::index_add_', 'aten::scatter_add_', 'aten::index_select',
        'aten::gather', 'aten::argmax', 'aten::bincount', 'aten::sigmoid', 'aten::sigmoid_',
        'aten::masked_fill_'),
    'elementwise (residuals, scales, reductions)': (
        'aten::mul', 'aten::mul_', 'aten::add', 'aten::add_', 'aten::addcmul', 'aten::sub',
        'aten::sub_', 'aten::div', 'aten::div_', 'aten::sum', 'aten::fill_', 'aten::zero_',
        'aten::square', 'aten::pow', 'aten::sqrt', 'aten::clamp_min'),
}
KIND_OF = {op: kind for kind, ops in KINDS.items() for op in ops}


def stage_runs(model, x):
    """(label, callable) per stage: fwd + bwd of the stage on its own input."""
    with torch.no_grad():
        inputs = [x]
        h = model.forward_stem(x)
        for stage in range(model.built_stages):
            inputs.append(h)
            h = model.forward_stage(stage, h)
    runs = []
    for stage in range(model.built_stages):
        src = inputs[stage + 1].detach().requires_grad_()
        first = stage == 0

        def run(src=src, stage=stage, first=first):
            inp = x if first else src
            out = model.forward_stage(stage, model.forward_stem(inp) if first else inp)
            out = getattr(model, model.norm_name(stage))(out)
            out.backward(torch.ones_like(out) / out.numel())
        runs.append((f'stage {stage}', run))
    return runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--arch', default='small', help="ContextCluster arch (default 'small')")
    parser.add_argument('--proposals', type=cli.positive_int, default=2)
    parser.add_argument('--size', type=cli.int_range(32, unit='px'), nargs=2,
                        default=[800, 1216], help='image H W')
    parser.add_argument('--threads', type=cli.positive_int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from mmcoc.models import ContextCluster
    torch.manual_seed(0)
    model = ContextCluster(args.arch, proposals=args.proposals, folds=[8, 4, 2, 1],
                           out_indices=(0, 1, 2, 3))
    x = torch.randn(1, 3, *args.size)
    table = defaultdict(lambda: defaultdict(float))
    labels = []
    for label, run in stage_runs(model, x):
        run()  # warm-up
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            run()
        for event in prof.key_averages():
            if event.key.startswith('aten::'):
                table[KIND_OF.get(event.key, 'other')][label] += event.self_cpu_time_total / 1e3
        labels.append(label)
    print(f'# ContextCluster {args.arch!r} (p{args.proposals}), 1x3x{args.size[0]}x'
          f'{args.size[1]}, forward + backward per stage, torch {torch.__version__}, '
          f'{args.threads} threads, {platform.machine()}, profiler self time (ms)\n')
    print('| kind | ' + ' | '.join(labels) + ' | all | share |')
    print('|---' * (len(labels) + 3) + '|')
    total = sum(sum(row.values()) for row in table.values())
    for kind in list(KINDS) + ['other']:
        row = table.get(kind, {})
        whole = sum(row.values())
        print(f'| {kind} | ' + ' | '.join(f'{row.get(label, 0.0):.0f}' for label in labels)
              + f' | {whole:.0f} | {100 * whole / total:.0f}% |')
    sums = [sum(table[k].get(label, 0.0) for k in table) for label in labels]
    print('| all | ' + ' | '.join(f'{s:.0f}' for s in sums) + f' | {total:.0f} | 100% |')


if __name__ == '__main__':
    main()
