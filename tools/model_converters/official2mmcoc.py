"""Convert Context-Cluster, FEC or SecViT weights (official releases or mmcoc checkpoints) into
the layout an OpenMMLab model or timm loads directly.

    python tools/model_converters/official2mmcoc.py SRC DST [--config CONFIG]
        [--layout auto|mmpretrain|whole|timm|backbone] [--verbose]

SRC: an official classification release (``coc_small.pth.tar``, ``fec_small.pth.tar``, a
SecViT ``.pth``), an official detection or segmentation release (a whole Mask R-CNN / Semantic
FPN ``.pth``), or an mmcoc training checkpoint (its optimizer and runner state are left out).
``--layout auto`` writes classification weights for mmpretrain (``backbone.*``, ``head.fc.*``)
and keeps a whole detector/segmentor whole (backbone keys mapped, neck and heads as they are).
``--config`` builds that config's model and loads the result strictly, naming every key that
does not fit. The mapping is the backbone loader's own (``checkpoint_filter_fn`` of
``mmcoc.models.backbones.context_cluster`` / ``.secvit``), so converting ahead is never needed
to load official weights: it makes files other tools load as they are.

For Context-Cluster weights the report says which ``cluster_normalizer`` trained them where the
layout tells (the 2023-03 releases, every Mask R-CNN and Semantic FPN model among them:
``'count'``; today's ImageNet releases: ``'similarity'``), records it in the output's ``meta``
and, with ``--config``, names the ``--cfg-options`` that evaluates the result as its authors
ran it when the config's backbone uses the other one.
"""
import argparse
import hashlib
import io
import sys
from pathlib import Path

import torch

from mmcoc.models import LAYOUTS, convert_checkpoint
from mmcoc.utils import cli, load_checkpoint_file
from mmcoc.utils.fileio import atomic_write


def check_against_config(state_dict, config: str):
    """Load ``state_dict`` strictly into the model of ``config``: the problems (or []), the
    model's class name and its backbone's ``cluster_normalizer`` (None for other backbones)."""
    from mmcoc.utils.config import build_model, load_config
    model = build_model(load_config(config))
    backbone = getattr(model, 'backbone', model)
    normalizer = getattr(backbone, 'cluster_normalizer', None) \
        if getattr(backbone, 'mixer_weighting', None) == 'similarity' else None
    own = model.state_dict()
    # shapes first: the first mismatching shape says most about a wrong arch or layout
    problems = [f'shape of {k}: {tuple(v.shape)} in the file, {tuple(own[k].shape)} in the '
                'model' for k, v in state_dict.items() if k in own and v.shape != own[k].shape]
    problems += [f'missing: {k}' for k in own if k not in state_dict]
    problems += [f'unexpected: {k}' for k in state_dict if k not in own]
    if not problems:
        model.load_state_dict(state_dict, strict=True)
    return problems, type(model).__name__, normalizer


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', type=cli.checkpoint_file, help='official release or mmcoc '
                        'checkpoint')
    parser.add_argument('dst', type=cli.output_file, help='output .pth')
    parser.add_argument('--layout', choices=LAYOUTS, default='auto')
    parser.add_argument('--config', type=cli.config_file,
                        help='check the result against this config\'s model')
    parser.add_argument('--verbose', action='store_true', help='list every renamed key')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='unpickle SRC in full (it can run code): only for a file you '
                        'trust; official releases and mmcoc checkpoints never need it')
    args = parser.parse_args(argv)
    if Path(args.dst).resolve() == Path(args.src).resolve():
        parser.error('DST must differ from SRC: the source is never overwritten')

    try:
        source = load_checkpoint_file(args.src, trust=args.trust_checkpoint)
    except (ValueError, RuntimeError, OSError, KeyError) as err:
        sys.exit(f'error: {err}')
    state_dict, report = convert_checkpoint(source, args.layout)
    print(f'{args.src}: {report.summary()}')
    for old, new in report.renamed if args.verbose else report.renamed[:5]:
        print(f'  renamed  {old} -> {new}')
    if not args.verbose and len(report.renamed) > 5:
        print(f'  ... {len(report.renamed) - 5} more renames (--verbose lists them)')
    for key, before, after in report.reshaped[:3]:
        print(f'  reshaped {key}: {before} -> {after}')
    if len(report.reshaped) > 3:
        print(f'  ... {len(report.reshaped) - 3} more reshaped')
    if report.dropped:
        print(f'  dropped (no place in layout {report.layout}): {report.dropped}')
    if report.trained_normalizer:
        print(f"trained with cluster_normalizer='{report.trained_normalizer}' "
              f'({report.evidence})')

    if args.config:
        problems, name, normalizer = check_against_config(state_dict, args.config)
        if problems:
            print(f'the result does not fit the {name} of {args.config}:')
            for problem in problems[:20]:
                print('  ' + problem)
            if len(problems) > 20:
                print(f'  ... {len(problems) - 20} more')
            print('nothing written: choose the --layout or the config that match')
            return 1
        print(f'checked: loads strictly into the {name} of {args.config}')
        wanted = report.trained_normalizer
        if wanted and normalizer and normalizer != wanted:
            print(f"WARNING: the config's backbone uses cluster_normalizer='{normalizer}', these "
                  f"weights were trained with '{wanted}': test and fine-tune them with "
                  f'--cfg-options model.backbone.cluster_normalizer={wanted}')

    meta = dict(converted_from=str(args.src), layout=report.layout)
    if report.trained_normalizer:
        # the converted names no longer tell the generation: the loader reads it from here
        meta['cluster_normalizer'] = report.trained_normalizer
    buffer = io.BytesIO()
    torch.save(dict(meta=meta, state_dict=state_dict), buffer)
    atomic_write(args.dst, buffer.getvalue())  # a reader never sees half a file
    sha = hashlib.sha256(Path(args.dst).read_bytes()).hexdigest()
    print(f'wrote {len(state_dict)} tensors to {args.dst} (sha256 {sha[:8]})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
