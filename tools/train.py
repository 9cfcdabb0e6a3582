"""Train a detector, segmentor or classifier from an mmcoc (or any OpenMMLab) config.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--compile]
        [--auto-scale-lr] [--trust-checkpoint] [--cfg-options k=v ...]
        [--launcher {none,pytorch,slurm,mpi}]

The config's ``default_scope`` (mmdet, mmseg, mmpretrain) decides what is built, by the
config's ``runner_type`` (``mmcoc.RecoverableRunner`` where it names none): exact resume, atomic
checkpoints, and on a CPU machine gloo and BN instead of SyncBN. Checkpoints are read
weights-only; ``--trust-checkpoint`` unpickles the ``--resume``/``load_from`` file in full.
"""
import argparse
import os

from mmengine.config import DictAction

from mmcoc.engine import build_runner, use_amp
from mmcoc.utils import cli
from mmcoc.utils.config import load_config


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', type=cli.config_file, help='train config file path')
    parser.add_argument('--work-dir', type=cli.output_dir,
                        help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision: float16 AMP on a GPU, bfloat16 autocast on CPU')
    parser.add_argument('--compile', nargs='?', const='inductor', metavar='BACKEND',
                        help="torch.compile the train step (mmengine's compile config key; "
                        "default backend inductor, e.g. --compile aot_eager without a C++ "
                        'compiler)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate by the actual total batch size')
    parser.add_argument('--resume', nargs='?', type=cli.checkpoint_or('auto'), const='auto',
                        help='resume from CKPT, or without one from the latest checkpoint of '
                        'the work dir')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='unpickle the resumed or loaded checkpoint in full (it can run '
                        'code): only for a file you trust; mmcoc checkpoints never need it')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value pairs')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=cli.nonnegative_int, default=0)
    parser.add_argument('--check-args', action='store_true',
                        help='check the arguments and the merged config, then exit (what '
                        'tools/dist_train.sh does before it starts the processes)')
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cli.check_config_arguments(parser, args.config, args.cfg_options, args.launcher)
    if args.check_args:
        parser.exit(0)
    return args


def _cuda():
    import torch
    return torch.cuda.is_available()


def main():
    args = parse_args()
    cfg = load_config(args.config, args.launcher, args.cfg_options, args.work_dir)
    if args.amp:
        use_amp(cfg)
    if args.compile:
        from mmcoc.deployment.compile import compile_support
        device = 'cuda' if cfg.get('device', None) != 'cpu' and _cuda() else 'cpu'
        problem = compile_support(device, args.compile)
        if problem:
            raise SystemExit(f'--compile is not supported here: {problem}')
        cfg.compile = dict(backend=args.compile) if args.compile != 'inductor' else True
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise SystemExit('--auto-scale-lr needs auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    build_runner(cfg, args.launcher, args.trust_checkpoint).train()


if __name__ == '__main__':
    main()
