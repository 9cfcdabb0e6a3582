"""Write the bundled demo datasets (drawn from a seed; nothing is downloaded).

    python tools/generate_demo_data.py [--format {coco,ade,imagenet}] [--out DIR] [--train N]
                                       [--val N] [--categories {shapes,coco}]

The formats ``coco`` and ``ade`` hold the same scenes of textured shapes (4 classes):
- ``coco`` (default out ``data/demo_shapes``): instance segmentation in COCO's own layout,
  ``train2017/``, ``val2017/`` images and ``annotations/instances_{train,val}2017.json`` with
  polygon masks (the file names mmdet's COCO configs read). ``--categories coco`` names the
  shapes by COCO categories (``mmcoc.datasets.COCO_STAND_INS``: tv, sports ball, kite, stop sign)
  among COCO's 80 with their ids, so that a published COCO config reads the set by its
  ``data_root`` alone: ``--out data/coco`` makes ``configs/coc_small_maskrcnn_coco.py`` run as
  written. The default, ``shapes``, is what the demo configs name;
- ``ade`` (default out ``data/demo_shapes_ade``): semantic segmentation in ADE20K's layout,
  ``images/{training,validation}/*.jpg`` and ``annotations/{training,validation}/*.png`` label
  maps (0 = clutter, ignored like ADE's "other"; 1 = background; 2-5 = the shapes).
``imagenet`` (default out ``data/demo_shapes_cls``) is a classification set in ImageNet's folder
layout, ``{train,val}/{rectangle,ellipse,triangle,star}/*.png``: one shape per image, 96-128 px.
Default sizes: 400 + 100 images for ``coco`` and ``ade``, 800 + 200 for ``imagenet``.
A finished set is recognised by its ``settings.json`` and left as it is; a different request or
``--force`` rewrites it. Only a folder holding the tool's marker file (``.mmcoc_demo_data``) is
ever deleted: any other non-empty ``--out`` is refused.
"""
import argparse
import json
import time
from pathlib import Path

from mmcoc.datasets import CLASSES, GENERATOR_VERSION, write_ade, write_coco, write_imagenet
from mmcoc.utils.fileio import claim_output_folder

FORMATS = {
    'coco': (write_coco, 'data/demo_shapes', ('train', 'val')),
    'ade': (write_ade, 'data/demo_shapes_ade', ('training', 'validation')),
    'imagenet': (write_imagenet, 'data/demo_shapes_cls', ('train', 'val')),
}
DEFAULT_SIZES = dict(coco=(400, 100), ade=(400, 100), imagenet=(800, 200))
MARKER = '.mmcoc_demo_data'


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--format', choices=sorted(FORMATS), default='coco')
    parser.add_argument('--out', help='output folder (default: per format, see above)')
    parser.add_argument('--train', type=int, help='training images (default: per format)')
    parser.add_argument('--val', type=int, help='validation images (default: per format)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--categories', choices=('shapes', 'coco'), default='shapes',
                        help='coco format: name the shapes by COCO categories (see above)')
    parser.add_argument('--force', action='store_true', help='rewrite an existing set')
    args = parser.parse_args()
    default_train, default_val = DEFAULT_SIZES[args.format]
    args.train = default_train if args.train is None else args.train
    args.val = default_val if args.val is None else args.val
    if args.train < 1 or args.val < 1:
        parser.error('--train and --val need at least one image each')
    if args.categories != 'shapes' and args.format != 'coco':
        parser.error(f'--categories applies to --format coco only, not {args.format}')
    write, default_out, split_names = FORMATS[args.format]
    out = Path(args.out or default_out)
    settings = dict(version=GENERATOR_VERSION, format=args.format, train=args.train,
                    val=args.val, seed=args.seed, classes=list(CLASSES))
    # the default's settings stay as before it could be chosen: those sets are still whole
    extra = {} if args.categories == 'shapes' else dict(categories=args.categories)
    settings.update(extra)
    stamp = out / 'settings.json'
    if not args.force and stamp.exists() and json.loads(stamp.read_text()) == settings:
        print(f'demo data already in {out}')
        return
    claim_output_folder(out, MARKER, 'tools/generate_demo_data.py', settings)
    start = time.perf_counter()

    def progress(split: str, done: int, count: int):
        if done == count or done % max(1, count // 10) == 0:  # every 10%
            print(f'{split}: {done}/{count} images ({time.perf_counter() - start:.0f} s)',
                  flush=True)

    write(out, dict(zip(split_names, (args.train, args.val))), seed=args.seed,
          progress=progress, **extra)
    stamp.write_text(json.dumps(settings))  # written last: its presence means the set is whole
    print(f'wrote {args.train} {split_names[0]} + {args.val} {split_names[1]} images '
          f'({args.format}) to {out} in {time.perf_counter() - start:.0f} s')


if __name__ == '__main__':
    main()
