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
from mmcoc.visualization import (ImageError, add_caption, read_image, resize_longer_side,
                                 safe_name, select_site, tile_grid)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--image', help='any image file (RGB, gray, RGBA, 16-bit)')
    parser.add_argument('--points', help='instead of --image: a point cloud, an h5 file in '
                        "ScanObjectNN's layout or a .npy array [N, 3]")
    parser.add_argument('--index', type=int, default=0, help='object of the --points h5 file')
    parser.add_argument('--groups', type=int, default=8,
                        help='--points: groups drawn (0: all)')
    parser.add_argument('--config', required=True, help='a classification/detection/'
                        'segmentation config with a clustering backbone')
    parser.add_argument('--checkpoint', help='model or backbone weights (default: random init)')
    parser.add_argument('--stage', type=int, default=0)
    parser.add_argument('--block', type=int, default=0, help='block within the stage')
    parser.add_argument('--head', type=int, default=0)
    parser.add_argument('--module', help='a clustering layer by module path instead of '
                        '--stage/--block (e.g. one between stages)')
    parser.add_argument('--all', action='store_true',
                        help='a labelled grid of every stage, block and head')
    parser.add_argument('--size', type=int, default=224,
                        help='longer side of the image the model sees, in pixels')
    parser.add_argument('--display', type=int, default=512,
                        help='longer side of a drawn map (of each tile with --all: a third)')
    parser.add_argument('--alpha', type=float, default=0.5, help='overlay opacity, 0-1')
    parser.add_argument('--out', default='work_dirs/cluster_maps')
    args = parser.parse_args(argv)
    if (args.image is None) == (args.points is None):
        parser.error('give one of --image and --points')
    if args.size < 32 or args.display < 32:
        parser.error('--size and --display must be at least 32 pixels')
    if not 0 <= args.alpha <= 1:
        parser.error('--alpha is an opacity in [0, 1]')
    return args


def draw_one(maps, site, head, display, alpha):
    return maps.draw(site, head, resize_longer_side(maps.image, display), alpha)


def main_points(args):
    """The point-cloud mode: one 3-D scatter of a PointMLP_CoC's clusters, as a PNG."""
    import torch
    from mmpretrain.apis import get_model

    from mmcoc.engine import adapt_to_machine, load_config
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
    cfg = adapt_to_machine(load_config(args.config))
    model = get_model(cfg, pretrained=args.checkpoint or False, device='cpu').eval()
    points = torch.from_numpy(np.asarray(cloud, np.float32)[:model.backbone.points])
    try:
        clusters = record_point_clusters(model.backbone, points, args.stage, args.block,
                                         args.head)
    except ValueError as err:
        sys.exit(f'error: {err}')
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
        loaded = load_model(args.config, args.checkpoint)
        maps = cluster_maps(loaded, image, args.size)
    except (ValueError, FileNotFoundError, RuntimeError) as err:
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
