"""Rewrite a checkpoint you trust so that it loads weights-only, anywhere.

    python tools/model_converters/weights_only.py SRC DST

SRC: a checkpoint whose pickle holds Python objects that weights-only loading refuses (a
training checkpoint written by plain mmengine, whose message hub pickles ``HistoryBuffer``
objects). Running this tool is the decision to trust SRC: it is unpickled in full once, its
message hub and meta are turned into plain data (``mmcoc.utils.to_plain``, which mmcoc runs
turn back on resume), and DST is written atomically and checked to load weights-only. Anything
else that is not plain data is named and nothing is written. DST must be another file than SRC
(checked before SRC is read): SRC stays as it is.
"""
import argparse
import io
import os.path as osp
import pickle
import sys

import torch

from mmcoc.utils import cli, load_checkpoint_file, to_plain
from mmcoc.utils.checkpoint import SAFE_GLOBALS
from mmcoc.utils.fileio import atomic_write


def same_file(src: str, dst: str) -> bool:
    """Whether ``dst`` names ``src``, also through another path (a link, ``..``)."""
    if osp.exists(src) and osp.exists(dst):
        return osp.samefile(src, dst)
    return osp.realpath(src) == osp.realpath(dst)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', type=cli.checkpoint_file, help='the checkpoint you trust')
    parser.add_argument('dst', type=cli.output_file,
                        help='where the weights-only checkpoint goes')
    args = parser.parse_args(argv)
    if same_file(args.src, args.dst):
        parser.error(f'DST {args.dst!r} is SRC {args.src!r}: the source would be overwritten; '
                     'give another file as DST (and delete SRC afterwards if you want)')
    print(f'unpickling {args.src} in full: you trust it by running this tool')
    checkpoint = to_plain(load_checkpoint_file(args.src, trust=True))
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    try:
        buffer.seek(0)
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            torch.load(buffer, weights_only=True)
    except pickle.UnpicklingError as err:
        sys.exit(f'{args.src} holds objects that are not plain data even after conversion '
                 f'({str(err).splitlines()[0]}); nothing written')
    atomic_write(args.dst, buffer.getvalue())
    keys = ', '.join(checkpoint) if isinstance(checkpoint, dict) else type(checkpoint).__name__
    print(f'wrote {args.dst} ({keys}): it loads weights-only')


if __name__ == '__main__':
    main()
