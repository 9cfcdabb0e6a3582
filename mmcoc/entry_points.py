"""The console commands of a pip install (``mmcoc-train``, ``mmcoc-test``, ...): each runs the
project's own script under ``tools/`` (packaged in the wheel as ``mmcoc/.mim/tools``, as mim
finds it), with the same arguments, so a command and its script never differ."""
import os.path as osp
import runpy
import sys

from mmcoc.utils.paths import project_file

TOOLS = {
    'train': ('tools', 'train.py'),
    'test': ('tools', 'test.py'),
    'convert': ('tools', 'model_converters', 'official2mmcoc.py'),
    'visualize': ('tools', 'visualize_clusters.py'),
    'export': ('tools', 'deployment', 'pytorch2onnx.py'),
    'demo-data': ('tools', 'generate_demo_data.py'),
}


def run_tool(name: str):
    script = project_file(*TOOLS[name])
    if not osp.isfile(script):
        raise SystemExit(f'mmcoc-{name}: {script} is missing: this mmcoc install has no tools/ '
                         '(reinstall it from a wheel or a clone: pip install mmcoc)')
    sys.path.insert(0, osp.dirname(script))  # as `python tools/<script>` puts its folder first
    runpy.run_path(script, run_name='__main__')


def train():
    run_tool('train')


def test():
    run_tool('test')


def convert():
    run_tool('convert')


def visualize():
    run_tool('visualize')


def export():
    run_tool('export')


def demo_data():
    run_tool('demo-data')


def demo():
    from mmcoc.demo.app import main
    main()
