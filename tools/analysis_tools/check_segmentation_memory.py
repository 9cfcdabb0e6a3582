"""Peak memory of mmseg's inference API on a large photo with a project segmentation config.

    python tools/analysis_tools/check_segmentation_memory.py [--config CFG] [--size 4000 3000]
        [--api {inference_model,MMSegInferencer}] [--unbounded] [--limit-gb 3]

Random weights (the memory does not depend on them), on the CPU, one process per measurement
(``mmcoc.deployment.measure.isolate``). Prints the resident-set peak above the loaded model and
fails above ``--limit-gb``. ``--unbounded`` measures mmseg's own ``EncoderDecoder`` for comparison
(on 4000x3000 with 150 classes it needs over 7 GB: mind the machine).
"""
import argparse
import resource

import numpy as np

from mmcoc.deployment.measure import current_rss_mb, isolate
from mmcoc.utils import cli


def worker(queue, config, size, api, unbounded):
    import torch
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import DefaultScope

    from mmcoc.utils.config import adapt_to_machine, load_config
    torch.set_num_threads(1)
    cfg = adapt_to_machine(load_config(config))
    cfg.model.backbone.init_cfg = None  # random weights: no download
    if unbounded:
        cfg.model.type = 'mmseg.EncoderDecoder'
    image = np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    with DefaultScope.overwrite_default_scope('mmseg'):
        from mmseg.apis import MMSegInferencer, inference_model, init_model
        model = revert_sync_batchnorm(init_model(cfg, None, device='cpu'))
        if api == 'MMSegInferencer':
            inferencer = MMSegInferencer(model=cfg, weights=None, device='cpu')
            inferencer.model = model
        base = current_rss_mb()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        with torch.no_grad():
            if api == 'MMSegInferencer':
                result = inferencer(image, return_datasamples=True)
            else:
                result = inference_model(model, image)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    labels = result.pred_sem_seg.data
    queue.put(dict(model_mb=base, peak_above_mb=max(peak, before) - base,
                   labels=tuple(labels.shape), classes=int(cfg.model.decode_head.num_classes)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', type=cli.config_file,
                        default='configs/context_cluster/coc_small_fpn_ade20k.py')
    parser.add_argument('--size', type=cli.int_range(32, unit='px'), nargs=2,
                        default=(4000, 3000),
                        metavar=('WIDTH', 'HEIGHT'))
    parser.add_argument('--api', choices=('inference_model', 'MMSegInferencer'),
                        default='inference_model')
    parser.add_argument('--unbounded', action='store_true')
    parser.add_argument('--limit-gb', type=cli.positive_float, default=3.0)
    args = parser.parse_args(argv)
    # the bounded segmentor needs ~740 MiB on 4000x3000 (60 bytes a pixel); mmseg's own 7.2 GB
    per_pixel = 600 if args.unbounded else 60
    cli.check_fits(parser, f'--size {args.size[0]} {args.size[1]}',
                   args.size[0] * args.size[1] * per_pixel,
                   f'the inference (about {per_pixel} bytes per pixel)', 'give a smaller --size')
    result = isolate(worker, args.config, args.size, args.api, args.unbounded)
    print(f'{args.api} on {args.size[0]}x{args.size[1]} ({result["classes"]} classes, '
          f'{"mmseg EncoderDecoder" if args.unbounded else "mmcoc.MemoryBoundedEncoderDecoder"}'
          f'): model loaded at {result["model_mb"]:.0f} MiB RSS, peak '
          f'{result["peak_above_mb"]:.0f} MiB above it; labels {result["labels"]}')
    if result['peak_above_mb'] > args.limit_gb * 1024:
        raise SystemExit(f'peak above {args.limit_gb} GB')


if __name__ == '__main__':
    main()
