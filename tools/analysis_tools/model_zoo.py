"""Keep the model zoo's metadata true: parameters and FLOPs of every config, by mmengine.analysis.

    python tools/model_zoo.py [--check] [--only NAME ...]

Reads ``model-index.yml`` and the ``metafile.yml`` files it imports (OpenMMLab's format; their
``Results`` are the published numbers and are written by hand), builds each listed config's
model with random weights, counts its parameters and its FLOPs (``mmengine.analysis``: a
multiply-add counts once; classification at 224x224, detection at 1280x800 as mmdet's tools
count, segmentation at 512x512, the ADE20K crop; point clouds at the points their backbone
samples; Sobel-input models on the two Sobel channels) and writes them into ``Metadata``.
``--check`` writes nothing and exits 1 where a number differs or a config of a family folder
is missing from its metafile.
"""
import argparse
import sys
import time
from functools import partial
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[2]
# the input each task's FLOPs are counted at: (channels, height, width)
INPUT_SHAPES = {'mmpretrain': (3, 224, 224), 'mmdet': (3, 1280, 800), 'mmseg': (3, 512, 512)}


def complexity(config: Path):
    """(parameters, FLOPs) of the model of ``config``, random weights."""
    from mmcoc.deployment.measure import count_flops
    from mmcoc.models.layers import count_released_parameters
    from mmcoc.utils.config import build_model, load_config
    cfg = load_config(str(config))
    scope = cfg.get('default_scope')
    if scope not in INPUT_SHAPES:
        raise SystemExit(f'{config}: default_scope {scope!r} is none of {list(INPUT_SHAPES)}')
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    shape = INPUT_SHAPES[scope]
    if scope == 'mmdet':
        # a two-stage detector's forward needs image metas: mmdet's own packed demo inputs
        from mmdet.testing import demo_mm_inputs
        packed = demo_mm_inputs(batch_size=1, image_shapes=[shape], with_mask=True)
        data = model.data_preprocessor(packed, False)
        # the tracer takes tensors only: bind the samples, as mmdet's get_flops does
        model.forward = partial(model.forward, data_samples=data['data_samples'])
        inputs = (data['inputs'], )
    elif 'PointCloud' in str(cfg.model.get('data_preprocessor', {}).get('type', '')):
        # a point cloud: [batch, points, xyz], as many points as the backbone samples
        inputs = (torch.zeros(1, cfg.model.backbone.points, 3), )
    else:
        image = torch.zeros(1, *shape)
        if 'Sobel' in str(cfg.model.get('data_preprocessor', {}).get('type', '')):
            # the backbone sees the two Sobel responses the preprocessor computes (its two
            # fixed 3x3 convolutions are not counted)
            image = model.data_preprocessor(dict(inputs=[image[0].byte()]), False)['inputs']
        inputs = (image, )
    return count_released_parameters(model), count_flops(model, inputs)


def metafiles():
    index = yaml.safe_load((ROOT / 'model-index.yml').read_text())
    return [ROOT / path for path in index['Import']]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--check', action='store_true', help='compare, write nothing')
    parser.add_argument('--only', nargs='+', metavar='NAME', help='these models only')
    args = parser.parse_args(argv)
    if args.only:
        names = [m['Name'] for f in metafiles() for m in yaml.safe_load(f.read_text())['Models']]
        unknown = [name for name in args.only if name not in names]
        if unknown:  # was: nothing measured, exit 0
            parser.error(f'--only {" ".join(unknown)}: no such model in model-index.yml; the '
                         f'models are: {", ".join(names)}')
    import mmcoc  # noqa: F401  (registers the modules the configs name)

    problems = []
    for metafile in metafiles():
        doc = yaml.safe_load(metafile.read_text())
        changed = False
        listed = {m['Config'] for m in doc['Models']}
        for config in sorted(metafile.parent.glob('*.py')):
            name = str(config.relative_to(ROOT))
            if name not in listed:
                problems.append(f'{name} is not in {metafile.relative_to(ROOT)}')
        for model in doc['Models']:
            if args.only and model['Name'] not in args.only:
                continue
            start = time.perf_counter()
            params, flops = complexity(ROOT / model['Config'])
            meta = model['Metadata']
            print(f"{model['Name']}: {params:,} parameters, {flops / 1e9:.2f} GFLOPs "
                  f'({time.perf_counter() - start:.0f} s)', flush=True)
            if (meta.get('Parameters'), meta.get('FLOPs')) != (params, flops):
                if args.check:
                    problems.append(f"{model['Name']}: metafile says {meta.get('Parameters')} "
                                    f"parameters, {meta.get('FLOPs')} FLOPs; the model has "
                                    f'{params}, {flops}')
                meta.update(FLOPs=flops, Parameters=params)
                changed = True
        # a metafile without new numbers is left as it is (others may be editing it)
        if changed and not args.check:
            metafile.write_text(yaml.safe_dump(doc, sort_keys=False, width=100))
    for problem in problems:
        print(problem)
    if problems:
        print('run python tools/model_zoo.py to update the numbers; add missing configs by hand')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
