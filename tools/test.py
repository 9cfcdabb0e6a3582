"""Evaluate a checkpoint with an mmcoc (or any OpenMMLab) config.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out RESULTS.pkl]
        [--show-dir DIR] [--trust-checkpoint] [--cfg-options k=v ...]
        [--launcher {none,pytorch,slurm,mpi}]

Metrics go to the log and to ``WORK_DIR/TIMESTAMP/TIMESTAMP.json``; ``--show-dir`` writes the
predictions drawn over the images (under the work dir); ``--out`` dumps raw results.
"""
import argparse
import os

from mmengine.config import Config, DictAction
from mmengine.evaluator import DumpResults

from mmcoc.engine import build_runner
from mmcoc.utils import cli
from mmcoc.utils.config import load_config


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', type=cli.config_file, help='test config file path')
    parser.add_argument('checkpoint', type=cli.checkpoint_file, help='checkpoint file or URL')
    parser.add_argument('--work-dir', type=cli.output_dir,
                        help='the dir to save evaluation results')
    parser.add_argument('--out', type=cli.output_file,
                        help='dump the raw results to this .pkl file')
    parser.add_argument('--show-dir', type=cli.output_dir,
                        help='draw predictions into this dir (under the work dir)')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='unpickle CHECKPOINT in full (it can run code): only for a file '
                        'you trust')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value pairs')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=cli.nonnegative_int, default=0)
    parser.add_argument('--check-args', action='store_true',
                        help='check the arguments and the merged config, then exit (what '
                        'tools/dist_test.sh does before it starts the processes)')
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        parser.error('--out must name a .pkl file')
    cli.check_config_arguments(parser, args.config, args.cfg_options, args.launcher)
    if args.check_args:
        parser.exit(0)
    return args


def enable_drawing(cfg: Config, show_dir: str):
    """Switch the config's visualisation hook on, whatever package it comes from."""
    hook = cfg.get('default_hooks', {}).get('visualization')
    if hook is None:
        raise SystemExit('--show-dir needs default_hooks.visualization in the config')
    scope = cfg.get('default_scope')
    if scope == 'mmpretrain':
        hook.update(enable=True, out_dir=show_dir, interval=1)  # every image
    elif scope == 'mmseg':
        hook.update(draw=True, interval=1)
        cfg.visualizer.save_dir = show_dir
    else:
        hook.update(draw=True, test_out_dir=show_dir)  # mmdet


def main():
    args = parse_args()
    cfg = load_config(args.config, args.launcher, args.cfg_options, args.work_dir)
    cfg.load_from = args.checkpoint
    if args.show_dir:
        enable_drawing(cfg, args.show_dir)
    runner = build_runner(cfg, args.launcher, args.trust_checkpoint)
    if args.out is not None:
        runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
    runner.test()


if __name__ == '__main__':
    main()
