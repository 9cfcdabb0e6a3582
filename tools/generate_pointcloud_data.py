"""Write the synthetic point-cloud set of the point-cloud demo in ScanObjectNN's h5 layout.

    python tools/generate_pointcloud_data.py [--out DIR] [--train N] [--test N] [--seed S]
                                             [--force]

Writes ``DIR/main_split/{training,test}_objectdataset_augmentedrot_scale75.h5`` (``data``
``[objects, 2048, 3]``, ``label``) and ``DIR/shape_names.txt``: 10 classes of primitives and
their compositions as partial, noisy scans with background points
(``mmcoc.datasets.synthetic_pointclouds``). Default: ``data/synthetic_scanobjectnn``, 1600
training and 400 test objects. A finished set is recognised by its ``settings.json`` and left
as it is; a different request or ``--force`` rewrites it. Only a folder holding the tool's marker
file (``.mmcoc_pointcloud_data``) is ever deleted: any other non-empty ``--out`` is refused.
"""
import argparse
import json
import time
from pathlib import Path

from mmcoc.datasets.synthetic_pointclouds import (
    POINTCLOUD_CLASSES,
    POINTCLOUD_GENERATOR_VERSION,
    write_synthetic_scanobjectnn,
)
from mmcoc.utils.fileio import claim_output_folder

MARKER = '.mmcoc_pointcloud_data'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/synthetic_scanobjectnn')
    parser.add_argument('--train', type=int, default=1600, help='training objects')
    parser.add_argument('--test', type=int, default=400, help='test objects')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true', help='rewrite an existing set')
    args = parser.parse_args(argv)
    if args.train < 1 or args.test < 1:
        parser.error('--train and --test need at least one object each')
    out = Path(args.out)
    sizes = dict(training=args.train, test=args.test)
    settings = dict(version=POINTCLOUD_GENERATOR_VERSION, sizes=sizes, seed=args.seed,
                    classes=list(POINTCLOUD_CLASSES))
    stamp = out / 'settings.json'
    if not args.force and stamp.exists() and json.loads(stamp.read_text()) == settings:
        print(f'synthetic point clouds already in {out}')
        return str(out)
    claim_output_folder(out, MARKER, 'tools/generate_pointcloud_data.py', settings)
    start = time.time()
    write_synthetic_scanobjectnn(str(out), sizes, args.seed)
    print(f'wrote {args.train} + {args.test} objects of {len(POINTCLOUD_CLASSES)} classes to '
          f'{out} in {time.time() - start:.1f} s')
    return str(out)


if __name__ == '__main__':
    main()
