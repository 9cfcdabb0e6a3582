"""tools/generate_pointcloud_data.py deletes only a folder it marked (or that an older version
of it wrote), --force or not; any other non-empty --out is refused with nothing deleted."""
import json

import pytest

from tests.helpers import import_tool

generate_pointcloud_data = import_tool('tools/generate_pointcloud_data.py')

pytestmark = pytest.mark.slow  # subprocesses, exports, compiles or docs: make test-fast skips

SMALL = ['--train', '2', '--test', '1']


@pytest.mark.parametrize('force', [[], ['--force']])
def test_foreign_folders_are_never_deleted(tmp_path, force):
    for name, files in (('with_settings', {'settings.json': '{"lr": 0.1}', 'notes.txt': 'mine'}),
                        ('plain', {'notes.txt': 'mine'})):
        folder = tmp_path / name
        folder.mkdir()
        for file, text in files.items():
            (folder / file).write_text(text)
        with pytest.raises(SystemExit) as refused:
            generate_pointcloud_data.main(['--out', str(folder), *SMALL, *force])
        assert 'is not a folder written by this tool (no .mmcoc_pointcloud_data in it): ' \
            'nothing deleted' in str(refused.value.code)
        assert {p.name: p.read_text() for p in folder.iterdir()} == files


def test_own_and_older_sets_are_rewritten(tmp_path):
    out = tmp_path / 'synthetic'
    generate_pointcloud_data.main(['--out', str(out), *SMALL])
    assert (out / '.mmcoc_pointcloud_data').is_file()
    generate_pointcloud_data.main(['--out', str(out), '--train', '3', '--test', '1'])
    assert json.loads((out / 'settings.json').read_text())['sizes']['training'] == 3
    # a set of the version before the marker: its settings.json has the tool's keys
    (out / '.mmcoc_pointcloud_data').unlink()
    (out / 'stale.txt').write_text('from the older set')
    generate_pointcloud_data.main(['--out', str(out), *SMALL, '--force'])
    assert not (out / 'stale.txt').exists() and (out / '.mmcoc_pointcloud_data').is_file()
