"""Draw which center every point of an image joined, in one block and head of a clustering model.

The assignments come from the model's real forward pass (its clustering layers store them when
asked, see ``mmcoc.visualization``); each cluster is a coloured region over the image, with
white boundaries and its center marked. Without ``--checkpoint`` the model has random weights,
and the picture says so.

    python tools/visualize_clusters.py --image IMG --config CFG [--checkpoint CKPT]
        [--stage 0 --block 0 --head 0 | --module PATH] [--all] [--out DIR]

Point clouds (a PointMLP_CoC config): ``--points`` instead of ``--image``, an h5 file in
ScanObjectNN's layout (object ``--index``) or a ``.npy`` array ``[N, 3]``; a 3-D scatter of the
first ``--groups`` groups of ``--stage``/``--block``, coloured by each member's similarity to its
group's center (``mmcoc.visualization.point_clusters``), is written as a PNG.

    python tools/visualize_clusters.py --points H5 --index 0 --config CFG [--checkpoint CKPT]
        [--stage 0 --block 0 --head 0] [--groups 8] [--out DIR]
"""
import argparse
import os
import os.path as osp
import sys

import cv2
import numpy as np

from mmcoc.apis import cluster_maps, load_model
from mmcoc.utils import cli
from mmcoc.visualization import (
    ImageError,
    add_caption,
    read_image,
    resize_longer_side,
    safe_name,
    select_site,
    tile_grid,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--image', type=cli.input_file('image file'),
                        help='any image file (RGB, gray, RGBA, 16-bit)')
    parser.add_argument('--points', type=cli.input_file('point cloud file'),
                        help='instead of --image: a point cloud, an h5 file in '
                        "ScanObjectNN's layout or a .npy array [N, 3]")
    parser.add_argument('--index', type=cli.nonnegative_int, default=0,
                        help='object of the --points h5 file')
    parser.add_argument('--groups', type=cli.nonnegative_int, default=8,
                        help='--points: groups drawn (0: all)')
    parser.add_argument('--config', required=True, type=cli.config_file,
                        help='a classification/detection/segmentation config with a '
                        'clustering backbone (a PointMLP_CoC config with --points)')
    parser.add_argument('--checkpoint', type=cli.checkpoint_file,
                        help='model or backbone weights (default: random init)')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='unpickle the checkpoint in full (it can run code): only for a '
                        'file you trust; mmcoc checkpoints never need it')
    parser.add_argument('--stage', type=cli.nonnegative_int, default=0)
    parser.add_argument('--block', type=cli.nonnegative_int, default=0,
                        help='block within the stage')
    parser.add_argument('--head', type=cli.nonnegative_int, default=0)
    parser.add_argument('--module', help='a clustering layer by module path instead of '
                        '--stage/--block (e.g. one between stages)')
    parser.add_argument('--all', action='store_true',
                        help='a labelled grid of every stage, block and head')
    parser.add_argument('--size', type=cli.int_range(32, unit='px'), default=224,
                        help='longer side of the image the model sees, in pixels (at least 32; '
                        f'at most what fits in memory at {cli.INFER_BYTES_PER_PIXEL} bytes a '
                        'pixel)')
    parser.add_argument('--display', type=cli.int_range(32, unit='px'), default=512,
                        help='longer side of a drawn map (of each tile with --all: a third; at '
                        f'least 32, at most what fits, about {cli.DRAW_BYTES_PER_PIXEL} bytes a '
                        'pixel)')
    parser.add_argument('--alpha', type=cli.float_range(0, 1), default=0.5,
                        help='overlay opacity, 0-1')
    parser.add_argument('--out', type=cli.output_dir, default='work_dirs/cluster_maps')
    args = parser.parse_args(argv)
    if (args.image is None) == (args.points is None):
        parser.error('give one of --image and --points')
    if args.points is not None:
        if cli.config_task(args.config) != 'points':
            parser.error(f'--points needs a point-cloud config (PointMLP_CoC, e.g. '
                         f'configs/pointcloud/pointmlp_coc_demo.py); {args.config} is an image '
                         'model: give it an --image')
        return args
    if cli.config_task(args.config) == 'points':
        parser.error(f'{args.config} is a point-cloud model: give it --points FILE (h5 or .npy), '
                     'not --image')
    cli.check_side(parser, '--size', args.size, cli.INFER_BYTES_PER_PIXEL, "the model's forward",
                   224)
    cli.check_side(parser, '--display', args.display, cli.DRAW_BYTES_PER_PIXEL, 'the drawn map',
                   512)
    return args


def draw_one(maps, site, head, display, alpha):
    return maps.draw(site, head, resize_longer_side(maps.image, display), alpha)


def main_points(args):
    """The point-cloud mode: one 3-D scatter of a PointMLP_CoC's clusters, as a PNG."""
    import torch

    from mmcoc.visualization.point_clusters import draw_point_clusters, record_point_clusters
    if args.points.endswith('.npy'):
        cloud = np.load(args.points)
    else:
        import h5py
        with h5py.File(args.points, 'r') as f:
            if not 0 <= args.index < len(f['data']):
                sys.exit(f'error: --index {args.index}: {args.points} holds objects '
                         f'0-{len(f["data"]) - 1}')
            cloud = f['data'][args.index]
    try:
        model = load_model(args.config, args.checkpoint, trust=args.trust_checkpoint,
                           cluster_sites=False).model
    except (ValueError, OSError, RuntimeError, KeyError) as err:
        sys.exit(f'error: {err}')
    points = torch.from_numpy(np.asarray(cloud, np.float32)[:model.backbone.points])
    try:
        clusters = record_point_clusters(model.backbone, points, args.stage, args.block,
                                         args.head)
    except ValueError as err:
        sys.exit(f'error: {err}')
    if args.groups > len(clusters.anchors):  # was drawn as all of them, silently
        sys.exit(f'error: --groups {args.groups}: stage {args.stage} block {args.block} has '
                 f'{len(clusters.anchors)} groups; give --groups 1-{len(clusters.anchors)} '
                 '(0: all)')
    weights = osp.basename(args.checkpoint) if args.checkpoint else 'random init'
    fig, drawn = draw_point_clusters(clusters, args.groups or None)
    fig.suptitle(f'{osp.basename(args.config)} | {weights} | '
                 f'{osp.basename(args.points)}[{args.index}]', fontsize=8)
    os.makedirs(args.out, exist_ok=True)
    stem = osp.splitext(osp.basename(args.points))[0]
    path = osp.join(args.out, f'{stem}_{args.index}_s{args.stage}b{args.block}h{args.head}.png')
    fig.savefig(path, dpi=100)
    print(f'point cluster map written to {path} ({weights}): {drawn["groups"]} groups, '
          f'{drawn["members"]} members over {drawn["points"]} points')
    return path


def main(argv=None):
    args = parse_args(argv)
    if args.points is not None:
        return main_points(args)
    try:
        image = read_image(args.image)
    except ImageError as err:
        sys.exit(f'error: {err}')
    try:
        loaded = load_model(args.config, args.checkpoint, trust=args.trust_checkpoint)
        maps = cluster_maps(loaded, image, args.size)
    except (ValueError, OSError, RuntimeError, KeyError) as err:
        # the reasons are written for a person (a strip too thin to see, a checkpoint of
        # another model, unreadable weights): no traceback
        sys.exit(f'error: {err}')
    sites = [site for site in loaded.sites if site.path in maps.assignments]  # those that ran
    header = [f'{osp.basename(args.config)} | {loaded.weights}',
              f'{osp.basename(args.image)} at {maps.image.shape[1]}x{maps.image.shape[0]} px']
    stem = osp.splitext(osp.basename(args.image))[0]
    os.makedirs(args.out, exist_ok=True)
    if args.all:
        columns = max(maps.assignments[site.path].shape[0] for site in sites)
        tiles = []
        for site in sites:  # one row per clustering layer, one column per head
            heads = maps.assignments[site.path].shape[0]
            for head in range(heads):
                tile, clusters = draw_one(maps, site, head, max(96, args.display // 3), args.alpha)
                tiles.append(add_caption(tile, [f'{site.label} head {head}: {clusters}']))
            tiles += [np.zeros_like(tiles[-1])] * (columns - heads)
        picture = tile_grid(tiles, columns)
        path = osp.join(args.out, f'{stem}_all.png')
    else:
        try:
            site = select_site(sites, args.stage, args.block, args.module)
            picture, clusters = draw_one(maps, site, args.head, args.display, args.alpha)
        except ValueError as err:
            sys.exit(f'error: {err}')
        header += [f'{site.label} head {args.head}: {clusters} clusters', site.path]
        where = f's{site.stage}b{site.block}' if site.block is not None else safe_name(site.path)
        path = osp.join(args.out, f'{stem}_{where}h{args.head}.png')
    picture = add_caption(picture, header, scale=0.5)
    cv2.imwrite(path, cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    print(f'cluster map written to {path} ({loaded.weights})')
    return path


if __name__ == '__main__':
    main()
