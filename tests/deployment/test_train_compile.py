"""tools/train.py --compile: sets mmengine's ``compile`` config key, or stops with why not."""
import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # subprocesses, exports, compiles or docs: make test-fast skips

ROOT = Path(__file__).parents[2]
CONFIG = str(ROOT / 'tests/tools/tiny_cls.py')


def _train_module():
    spec = importlib.util.spec_from_file_location('mmcoc_train_tool', ROOT / 'tools/train.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('flag, expected', [(['--compile'], True),
                                            (['--compile', 'aot_eager'],
                                             dict(backend='aot_eager')),
                                            ([], None)])
def test_compile_flag_sets_the_config_key(flag, expected, monkeypatch, tmp_path):
    train = _train_module()
    seen = {}

    class Runner:
        def train(self):
            pass

    def build_runner(cfg, launcher, trust):
        seen['compile'] = cfg.get('compile')
        return Runner()

    monkeypatch.setattr(train, 'build_runner', build_runner)
    monkeypatch.setattr('mmcoc.deployment.compile.compile_support', lambda *a, **k: None)
    monkeypatch.setattr(sys, 'argv', ['train.py', CONFIG, '--work-dir', str(tmp_path), *flag])
    train.main()
    assert seen['compile'] == expected


def test_compile_flag_says_why_not_supported(monkeypatch, tmp_path):
    train = _train_module()
    monkeypatch.setattr('mmcoc.deployment.compile.compile_support',
                        lambda *a, **k: 'the inductor backend needs a C++ compiler')
    monkeypatch.setattr(sys, 'argv', ['train.py', CONFIG, '--work-dir', str(tmp_path),
                                      '--compile'])
    with pytest.raises(SystemExit, match='--compile is not supported here: the inductor'):
        train.main()
