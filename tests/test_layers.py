"""The import rules that keep mmcoc's layers apart, read from the source (every import statement,
also those inside functions):

- ``mmcoc.utils`` is below the models: no module of it imports ``mmcoc.models``;
- the training engine is a leaf: nothing in mmcoc outside ``mmcoc/engine/`` imports it (inference,
  the demo and the visualisers run without it), except the package's ``__init__``, which
  registers everything;
- no module imports a private name (``_name``) of another module.
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / 'mmcoc'


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = list(path.relative_to(package.parent).with_suffix('').parts)
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def imports(path: Path, package_dir: Path = PACKAGE):
    """(imported module, imported names) of every import in ``path``, relative ones resolved."""
    name = module_name(path, package_dir)
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')[:len(package.split('.')) - node.level + 1]
                target = '.'.join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ''
            yield target, tuple(alias.name for alias in node.names)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob('*.py'))}


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + '.')


def violations(rule, modules=MODULES, package_dir=PACKAGE):
    return [f'{module} imports {target}{" " + ", ".join(names) if names else ""}'
            for module, path in modules.items() for target, names in imports(path, package_dir)
            if rule(module, target, names)]


def test_the_rules_see_the_package():
    assert len(MODULES) > 50 and 'mmcoc.utils.config' in MODULES
    found = {t for p in MODULES.values() for t, _ in imports(p)}
    assert 'mmcoc.models.layers.clustering' in found  # relative imports resolved


def utils_import_models(module, target, names):
    return within(module, 'mmcoc.utils') and within(target, 'mmcoc.models')


def imports_engine_from_outside(module, target, names):
    engine = within(target, 'mmcoc.engine') or (target == 'mmcoc' and 'engine' in names)
    return engine and not within(module, 'mmcoc.engine') and module != 'mmcoc'


def imports_private_name(module, target, names):
    private = [n for n in names if n.startswith('_') and not n.startswith('__')]
    return bool(private) and within(target, 'mmcoc') and target != module


RULES = dict(utils=utils_import_models, engine=imports_engine_from_outside,
             private=imports_private_name)


@pytest.mark.parametrize('rule', sorted(RULES))
def test_import_rule_holds(rule):
    assert violations(RULES[rule]) == []


@pytest.mark.parametrize('rule,where,bad', [
    ('utils', 'utils/bad.py', 'from mmcoc.models.layers import ClusterPool\n'),
    ('engine', 'apis/bad.py', 'def f():\n    from ..engine import build_runner\n'),
    ('private', 'models/layers/bad.py', 'from .clustering import _hidden\n'),
])
def test_each_rule_catches_its_violation(tmp_path, rule, where, bad):
    package = tmp_path / 'mmcoc'
    path = package / where
    path.parent.mkdir(parents=True)
    path.write_text(bad)
    found = violations(RULES[rule], {module_name(path, package): path}, package)
    assert len(found) == 1 and found[0].startswith(f'mmcoc.{where[:-3].replace("/", ".")}')
