"""Names of a package that import their module on first use (PEP 562), so that importing the
package costs nothing until one of them is needed."""
import importlib
from typing import Callable, Dict


def lazy_exports(package: str, exports: Dict[str, str]) -> Callable[[str], object]:
    """The module-level ``__getattr__`` of ``package``: ``exports`` maps a name to the relative
    module (``'.backbones'``) that defines it; the module is imported when the name is first
    read (``from package import name`` included)."""

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f'module {package!r} has no attribute {name!r}')
        return getattr(importlib.import_module(exports[name], package), name)

    return __getattr__
