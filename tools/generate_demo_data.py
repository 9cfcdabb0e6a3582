"""Write the bundled demo dataset (drawn from a seed; nothing is downloaded).

    python tools/generate_demo_data.py [--out data/demo_shapes] [--train 400] [--val 100]

Writes a COCO instance-segmentation set: ``train/``, ``val/`` images and ``train.json``,
``val.json`` (4 classes of textured shapes, polygon masks). A finished set is recognised by its
``settings.json`` and left as it is; a different request or ``--force`` rewrites it.
"""
import argparse
import json
import shutil
import time
from pathlib import Path

from mmcoc.datasets import CLASSES, GENERATOR_VERSION, write_coco


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/demo_shapes', help='output folder')
    parser.add_argument('--train', type=int, default=400, help='training images')
    parser.add_argument('--val', type=int, default=100, help='validation images')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true', help='rewrite an existing set')
    args = parser.parse_args()
    if args.train < 1 or args.val < 1:
        parser.error('--train and --val need at least one image each')
    out = Path(args.out)
    settings = dict(version=GENERATOR_VERSION, format='coco', train=args.train, val=args.val, seed=args.seed,
                    classes=list(CLASSES))
    stamp = out / 'settings.json'
    if not args.force and stamp.exists() and json.loads(stamp.read_text()) == settings:
        print(f'demo data already in {out}')
        return
    if out.exists() and any(out.iterdir()):
        if not (stamp.exists() or args.force):
            raise SystemExit(f'{out} holds files that are not a demo set; choose another --out '
                             'or pass --force to replace them')
        shutil.rmtree(out)
    start = time.perf_counter()
    write_coco(out, dict(train=args.train, val=args.val), seed=args.seed)
    stamp.write_text(json.dumps(settings))  # written last: its presence means the set is whole
    print(f'wrote {args.train} train + {args.val} val images to {out} '
          f'in {time.perf_counter() - start:.0f} s')


if __name__ == '__main__':
    main()
