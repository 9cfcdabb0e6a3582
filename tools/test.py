"""Evaluate a checkpoint with an mmcoc (or any OpenMMLab) config.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out RESULTS.pkl]
        [--show] [--show-dir DIR] [--wait-time S] [--tta] [--trust-checkpoint]
        [--cfg-options k=v ...] [--launcher {none,pytorch,slurm,mpi}]

Metrics go to the log and to ``WORK_DIR/TIMESTAMP/TIMESTAMP.json``; ``--show-dir`` writes the
predictions drawn over the images (under the work dir), ``--show`` shows them in a window for
``--wait-time`` seconds each; ``--out`` dumps raw results. ``--tta``: test-time augmentation as
mmdet's, mmseg's and mmpretrain's tools do it: the config's ``tta_model`` and ``tta_pipeline``,
else flip TTA (the test pipeline with its last transform under a horizontal-flip
``TestTimeAug``) merged by the host's TTA model.
"""
import argparse
import copy
import os
from typing import Optional

from mmengine.config import Config, ConfigDict, DictAction
from mmengine.evaluator import DumpResults
from mmengine.logging import print_log

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
    parser.add_argument('--show', action='store_true',
                        help='show the predictions in a window (needs a display)')
    parser.add_argument('--show-dir', type=cli.output_dir,
                        help='draw predictions into this dir (under the work dir)')
    parser.add_argument('--wait-time', type=float, default=2,
                        help='seconds each image is shown with --show (default 2)')
    parser.add_argument('--tta', action='store_true', help='test-time augmentation')
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
    if args.wait_time < 0:
        parser.error(f'--wait-time must be >= 0 seconds, got {args.wait_time}')
    cli.check_config_arguments(parser, args.config, args.cfg_options, args.launcher)
    if args.check_args:
        parser.exit(0)
    return args


def enable_drawing(cfg: Config, show_dir: Optional[str], show: bool = False,
                   wait_time: float = 2):
    """Switch the config's visualisation hook on, whatever package it comes from: drawn into
    ``show_dir`` and/or shown in a window for ``wait_time`` seconds each."""
    hook = cfg.get('default_hooks', {}).get('visualization')
    if hook is None:
        raise SystemExit('--show and --show-dir need default_hooks.visualization in the config')
    scope = cfg.get('default_scope')
    if show:
        hook.update(show=True, wait_time=wait_time)
    if scope == 'mmpretrain':
        hook.update(enable=True, interval=1)  # every image
        if show_dir:
            hook.update(out_dir=show_dir)
    elif scope == 'mmseg':
        hook.update(draw=True, interval=1)
        if show_dir:
            cfg.visualizer.save_dir = show_dir
    else:  # mmdet
        hook.update(draw=True)
        if show_dir:
            hook.update(test_out_dir=show_dir)


# each host's TTA model where the config names none (what its own tools/test.py sets)
TTA_MODELS = {
    'mmpretrain': dict(type='mmpretrain.AverageClsScoreTTA'),
    'mmseg': dict(type='mmseg.SegTTAModel'),
    'mmdet': dict(type='mmdet.DetTTAModel',
                  tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=100)),
}


def _innermost_dataset(cfg: Config):
    dataset = cfg.test_dataloader.dataset
    while 'dataset' in dataset:  # wrappers (ConcatDataset, RepeatDataset, ...)
        dataset = dataset['dataset']
    return dataset


def enable_tta(cfg: Config):
    """The model wrapped in the config's ``tta_model`` and the test set on its
    ``tta_pipeline``; flip TTA by the host's merger where the config has neither."""
    scope = cfg.get('default_scope')
    if scope not in TTA_MODELS:
        raise SystemExit(f'--tta: default_scope {scope!r} is none of {sorted(TTA_MODELS)}, '
                         'whose test-time augmentation this tool knows')
    model = cfg.model
    if scope == 'mmdet' and (model.get('roi_head') or {}).get('mask_head') is not None \
            and 'tta_model' not in cfg:
        raise SystemExit('--tta: mmdet\'s DetTTAModel merges boxes only and this detector '
                         'predicts masks (Mask R-CNN): test it without --tta, or give the '
                         'config a tta_model that merges masks')
    if 'tta_model' not in cfg:
        cfg.tta_model = TTA_MODELS[scope]
        print_log(f'--tta: the config has no tta_model; using {cfg.tta_model["type"]}',
                  logger='current')
    dataset = _innermost_dataset(cfg)
    if 'tta_pipeline' not in cfg:
        pipeline = copy.deepcopy(dataset.pipeline)
        pipeline[-1] = dict(type='TestTimeAug', transforms=[
            [dict(type='RandomFlip', prob=1.0, direction='horizontal'),
             dict(type='RandomFlip', prob=0.0, direction='horizontal')], [pipeline[-1]]])
        cfg.tta_pipeline = pipeline
        print_log('--tta: the config has no tta_pipeline; flipping each test image '
                  'horizontally', logger='current')
    cfg.model = ConfigDict(**cfg.tta_model, module=model)
    dataset.pipeline = cfg.tta_pipeline


def main():
    args = parse_args()
    cfg = load_config(args.config, args.launcher, args.cfg_options, args.work_dir)
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        enable_drawing(cfg, args.show_dir, args.show, args.wait_time)
    if args.tta:
        enable_tta(cfg)
    runner = build_runner(cfg, args.launcher, args.trust_checkpoint)
    if args.out is not None:
        runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
    runner.test()


if __name__ == '__main__':
    main()
