"""Where the project's files outside the Python package are: the configs, tools and model index."""
import os.path as osp

PACKAGE_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))


def project_root() -> str:
    """The folder holding ``configs/``, ``tools/`` and ``model-index.yml``: ``mmcoc/.mim`` of an
    installed wheel (where mim looks, as for mmdet), else the checkout around ``mmcoc/`` (a clone,
    editable or not)."""
    mim = osp.join(PACKAGE_DIR, '.mim')
    if osp.isdir(osp.join(mim, 'configs')):
        return mim
    return osp.dirname(PACKAGE_DIR)


def project_file(*parts: str) -> str:
    """A file of the project (``project_file('configs', 'demo')``), wherever it is installed."""
    return osp.join(project_root(), *parts)
