"""The wheel is complete, as mmdet's, mmseg's and mmpretrain's are: built from a copy of the
checkout and installed (not editable) into a fresh venv that reuses the pinned stack, it carries
``mmcoc/.mim`` (configs, tools, model index), so that from another folder ``mim search``,
``mim list`` and ``mim train`` work, the console commands run the packaged tools (``mmcoc::``
configs too), and the demo finds the packaged configs."""
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.slow  # subprocesses, exports, compiles or docs: make test-fast skips

LEFT_OUT = shutil.ignore_patterns('.git', '.venv', 'build', 'work_dirs', 'data', 'checkpoints',
                                  '*.egg-info', '__pycache__', '.pytest_cache', '.mim')


def _run(args, cwd, **kwargs):
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env.update(OMP_NUM_THREADS='1', PYTHONNOUSERSITE='1')
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                            text=True, **kwargs)
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    return result


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """(the wheel, the fresh venv's python) with the wheel installed in it."""
    tmp = tmp_path_factory.mktemp('wheel')
    source = tmp / 'source'
    shutil.copytree(ROOT, source, ignore=LEFT_OUT)
    # through an sdist, as `python -m build` and pip from an index build it (MANIFEST.in)
    _run([sys.executable, 'setup.py', '-q', 'sdist', '-d', tmp / 'sdist'], cwd=source,
         timeout=300)
    (sdist, ) = (tmp / 'sdist').glob('mmcoc-*.tar.gz')
    _run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation',
          '-w', tmp / 'dist', sdist], cwd=tmp, timeout=300)
    (wheel, ) = (tmp / 'dist').glob('mmcoc-*.whl')
    venv = tmp / 'venv'
    _run([sys.executable, '-m', 'venv', '--without-pip', venv], cwd=tmp, timeout=120)
    python = venv / 'bin' / 'python'
    purelib = Path(_run([python, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                        cwd=tmp).stdout.strip())
    # the pinned stack (torch, mmcv, ...) without its editable mmcoc: a plain path entry, whose
    # own .pth files (the editable finder) are not processed
    (purelib / 'stack.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')
    _run([python, '-m', 'pip', 'install', '-q', '--no-deps', '--no-index', wheel], cwd=tmp,
         timeout=300)
    return wheel, python, tmp


def test_wheel_holds_configs_tools_model_index_and_commands(installed):
    wheel, _, _ = installed
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names
                            if n.endswith('.dist-info/entry_points.txt'))
    for name in ('model-index.yml', 'configs/coc_small_maskrcnn_coco.py',
                 'configs/context_cluster/metafile.yml', 'configs/pointcloud/metafile.yml',
                 'configs/_base_/default_runtime.py', 'tools/train.py', 'tools/test.py',
                 'tools/dist_train.sh', 'tools/model_converters/official2mmcoc.py'):
        assert f'mmcoc/.mim/{name}' in names, name
    assert not any('__pycache__' in n for n in names)
    # every config and tool of the checkout, nothing left behind by the sdist
    shipped = {f'mmcoc/.mim/{p.relative_to(ROOT)}' for folder in ('configs', 'tools')
               for p in (ROOT / folder).rglob('*')
               if p.is_file() and '__pycache__' not in p.parts and p.suffix != '.pyc'}
    assert shipped <= names, sorted(shipped - names)[:5]
    for command in ('mmcoc-train', 'mmcoc-test', 'mmcoc-convert', 'mmcoc-visualize',
                    'mmcoc-export', 'mmcoc-demo'):
        assert f'{command} = mmcoc.entry_points:' in entry_points, command


def test_installed_package_is_the_wheel_and_the_demo_finds_its_configs(installed):
    _, python, tmp = installed
    out = _run([python, '-c', 'import mmcoc; from mmcoc.demo.app import CONFIGS, find_configs; '
                'print(mmcoc.__file__); print(CONFIGS); print(len(find_configs(CONFIGS)))'],
               cwd=tmp).stdout
    module, configs, count = out.strip().splitlines()[-3:]
    assert module.startswith(str(tmp / 'venv')), module
    assert configs.startswith(str(tmp / 'venv')) and configs.endswith('.mim/configs'), configs
    assert int(count) > 10


def test_mim_search_and_list_see_mmcoc(installed):
    _, python, tmp = installed
    search = _run([python, '-m', 'mim', 'search', 'mmcoc'], cwd=tmp,
                  timeout=300).stdout
    for model in ('coc_small_maskrcnn_coco', 'coc_medium_49_fpn_ade20k', 'secvit_t_in1k',
                  'pointmlp_coc_scanobjectnn', 'linear_probe_resnet50_sobel_in1k'):
        assert f'config id: {model}\n' in search, model
    assert 'mmcoc' in _run([python, '-m', 'mim', 'list'], cwd=tmp, timeout=300).stdout


def test_mim_train_then_mim_test_run_a_packaged_demo_config(installed, tiny_imagenet):
    _, python, tmp = installed
    work_dir = tmp / 'mim_train'
    loaders = [f'train_dataloader.dataset.data_root={tiny_imagenet}',
               f'val_dataloader.dataset.data_root={tiny_imagenet}',
               f'test_dataloader.dataset.data_root={tiny_imagenet}',
               'train_dataloader.batch_size=4', 'val_dataloader.batch_size=2',
               'test_dataloader.batch_size=2'] + [
        f'{split}_dataloader.{key}' for split in ('train', 'val', 'test')
        for key in ('num_workers=0', 'persistent_workers=False')]
    out = _run([python, '-m', 'mim', 'train', 'mmcoc', 'coc_tiny_plain_cls_demo.py',
                '--work-dir', work_dir, '--cfg-options', *loaders,
                'train_cfg.max_epochs=1', 'param_scheduler=[]'], cwd=tmp, timeout=600)
    out = out.stdout + out.stderr
    assert '.mim/configs/demo/coc_tiny_plain_cls_demo.py' in out  # found by mim in the wheel
    assert 'Epoch(train) [1][2/2]' in out  # 8 images in batches of 4: two iterations
    assert (work_dir / 'epoch_1.pth').is_file()
    # mim test runs the packaged tools/test.py on that checkpoint: 4 val images in batches of 2
    tested = _run([python, '-m', 'mim', 'test', 'mmcoc', 'coc_tiny_plain_cls_demo.py',
                   '--checkpoint', work_dir / 'epoch_1.pth', '--work-dir', tmp / 'mim_test',
                   '--cfg-options', *loaders], cwd=tmp, timeout=600)
    tested = tested.stdout + tested.stderr
    assert 'Epoch(test) [2/2]' in tested and 'accuracy/top1' in tested, tested[-2000:]


def test_console_commands_run_the_packaged_tools_with_package_configs(installed):
    _, python, tmp = installed
    bin_dir = python.parent
    out = _run([bin_dir / 'mmcoc-train', 'mmcoc::demo/coc_tiny_plain_cls_demo.py',
                '--check-args'], cwd=tmp, timeout=300)
    assert 'Traceback' not in out.stderr
    assert 'usage: official2mmcoc.py' in _run([bin_dir / 'mmcoc-convert', '--help'], cwd=tmp,
                                          timeout=300).stdout
    # every command reaches its own packaged script (its usage line names the script)
    for command, script in (('mmcoc-test', 'test.py'), ('mmcoc-visualize', 'visualize_clusters.py'),
                            ('mmcoc-export', 'pytorch2onnx.py'),
                            ('mmcoc-demo-data', 'generate_demo_data.py')):
        usage = _run([bin_dir / command, '--help'], cwd=tmp, timeout=300).stdout
        assert usage.startswith(f'usage: {script}'), (command, usage[:200])
    assert 'usage:' in _run([bin_dir / 'mmcoc-demo', '--help'], cwd=tmp, timeout=300).stdout
    refused = subprocess.run([bin_dir / 'mmcoc-train', 'mmcoc::demo/no_such.py'], cwd=tmp,
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and 'mmcoc has no config' in refused.stderr
