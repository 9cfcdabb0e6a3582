"""What several test modules share: the repo root, a tool script imported as a module, a
checkpoint that is a program. (Fixtures are in ``conftest.py``; running the tools as a user
does is ``tests/tools/tool_runner.py``.)"""
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def import_tool(relative: str):
    """The script ``ROOT/relative`` (e.g. ``tools/visualize_clusters.py``) as a module, imported
    as running it would: its own folder first on ``sys.path`` while it loads (its sibling
    imports), and kept in ``sys.modules`` under a name made of its path (``tools_train``: the
    bare ``test`` of ``tools/test.py`` would shadow Python's own package)."""
    path = ROOT / relative
    name = relative[:-3].replace('/', '_')
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    finally:
        sys.path.remove(str(path.parent))
    return module


class Payload:
    """Pickled, it would run ``touch MARKER``: a checkpoint that is a program."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os
        return (os.system, (f'touch {self.marker}',))
