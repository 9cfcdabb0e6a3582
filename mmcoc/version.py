"""The host versions mmcoc was written for: the ranges of ``pyproject.toml``, read back from the
installed package's metadata, checked once at import with an error naming the package."""
__version__ = '0.1.0'  # the one place (pyproject.toml reads it)

from importlib import metadata

from packaging.requirements import Requirement
from packaging.version import Version


def check_host_versions():
    """Raise naming every installed host package whose version is outside mmcoc's range.

    Packages that are not installed are not checked here (the import that needs them fails
    with its own message); an mmcoc run from a source tree without installed metadata is not
    checked at all.
    """
    try:
        requirements = [Requirement(r) for r in metadata.requires('mmcoc') or []]
    except metadata.PackageNotFoundError:
        return
    wrong = []
    for requirement in requirements:
        if requirement.marker is not None or not requirement.specifier:
            continue  # extras (test, demo, ...) and unpinned names
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            continue
        if not requirement.specifier.contains(Version(installed).base_version,
                                              prereleases=True):
            wrong.append(f'{requirement.name} {installed} (mmcoc needs '
                         f'{requirement.name}{requirement.specifier})')
    if wrong:
        raise ImportError(
            'mmcoc was written for other versions of: ' + '; '.join(wrong) + '. Install the '
            'tested set with `pip install -r requirements/stack.txt` (or `make setup`).')
