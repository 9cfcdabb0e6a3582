"""The configs, tools and model index go into the wheel as ``mmcoc/.mim/`` (package data), as
mmdet, mmseg and mmpretrain ship theirs, so that ``mim train/test/search/list`` and the
project's console commands find them after a plain ``pip install``. Everything else about the
package is in pyproject.toml."""
import os
import os.path as osp
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

# what mim and the project's commands look for under mmcoc/.mim (mmdet's add_mim_extension)
MIM_FILES = ('configs', 'tools', 'model-index.yml')
LEFT_OUT = shutil.ignore_patterns('__pycache__', '*.pyc', 'work_dirs')


class BuildPyWithMim(build_py):
    """build_py, then a copy of MIM_FILES into the built package's ``.mim`` folder (an editable
    install has none: mmcoc then reads them from the checkout, see mmcoc.utils.paths)."""

    def run(self):
        super().run()
        if getattr(self, 'editable_mode', False):
            return
        root = osp.dirname(osp.abspath(__file__))
        mim = osp.join(self.build_lib, 'mmcoc', '.mim')
        shutil.rmtree(mim, ignore_errors=True)
        os.makedirs(mim)
        for name in MIM_FILES:
            source, target = osp.join(root, name), osp.join(mim, name)
            if osp.isdir(source):
                shutil.copytree(source, target, ignore=LEFT_OUT)
            else:
                shutil.copy2(source, target)


setup(cmdclass={'build_py': BuildPyWithMim})
