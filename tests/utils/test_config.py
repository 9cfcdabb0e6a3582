"""mmcoc's configs by package name (``mmcoc::``), as a tool's config and in ``_base_`` lists at
any depth, beside relative bases and other packages' (``mmpretrain::``) ones."""
import pytest

from mmcoc.utils import cli
from mmcoc.utils.config import load_config, package_config, read_config
from tests.helpers import ROOT

DEMO = 'demo/coc_tiny_plain_cls_demo.py'


def test_package_name_is_the_file_under_configs():
    assert package_config(f'mmcoc::{DEMO}') == str(ROOT / 'configs' / DEMO)
    cfg = load_config(f'mmcoc::{DEMO}')
    assert cfg.model.backbone.arch == 'tiny_plain'
    assert cfg.work_dir == './work_dirs/coc_tiny_plain_cls_demo'


def test_package_bases_at_any_depth_with_relative_ones(tmp_path):
    (tmp_path / 'sub').mkdir()
    (tmp_path / 'sub' / 'first.py').write_text(
        f"_base_ = ['mmcoc::{DEMO}', '../extra.py']\ntrain_cfg = dict(max_epochs=3)\n")
    (tmp_path / 'extra.py').write_text("extra_setting = 'from a relative base'\n")
    (tmp_path / 'second.py').write_text(
        "_base_ = './sub/first.py'\nval_cfg = dict(note='second')  # 'mmcoc::' in a comment\n")
    cfg = read_config(str(tmp_path / 'second.py'))
    assert cfg.filename == str(tmp_path / 'second.py')  # the user's file, not a resolved copy
    assert cfg.train_cfg.max_epochs == 3 and cfg.val_cfg.note == 'second'
    assert cfg.extra_setting == 'from a relative base'
    assert cfg.model.backbone.type == 'mmcoc.ContextCluster'  # from the demo config
    assert cfg.default_hooks.logger.type == 'LoggerHook'  # its mmpretrain:: base, read by mmengine
    assert (tmp_path / 'second.py').read_text().startswith("_base_ = './sub/first.py'")


def test_unknown_package_config_is_named():
    with pytest.raises(FileNotFoundError, match="mmcoc has no config 'demo/nope.py'"):
        read_config('mmcoc::demo/nope.py')
    with pytest.raises(Exception, match='mmcoc has no config'):
        cli.config_file('mmcoc::demo/nope.py')
    assert cli.config_file(f'mmcoc::{DEMO}') == f'mmcoc::{DEMO}'
