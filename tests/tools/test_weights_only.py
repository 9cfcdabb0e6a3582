"""tools/model_converters/weights_only.py never writes over its source, whatever path names
it, and refuses before unpickling anything."""
import os
import sys

import pytest
import torch

from tests.tools.tool_runner import ROOT, run

pytestmark = pytest.mark.slow  # subprocesses, exports, compiles or docs: make test-fast skips

TOOL = str(ROOT / 'tools' / 'model_converters' / 'weights_only.py')


@pytest.mark.parametrize('dst', ['same', 'dotted', 'symlink', 'hardlink'])
def test_dst_naming_src_is_refused_and_src_kept(tmp_path, dst):
    src = tmp_path / 'ckpt.pth'
    torch.save({'state_dict': {'w': torch.ones(2)}, 'meta': {'note': 'source'}}, src)
    before = (src.stat().st_mtime_ns, src.read_bytes())
    (tmp_path / 'sub').mkdir()
    target = {'same': src, 'dotted': tmp_path / 'sub' / '..' / 'ckpt.pth',
              'symlink': tmp_path / 'link.pth', 'hardlink': tmp_path / 'hard.pth'}[dst]
    if dst == 'symlink':
        os.symlink(src, target)
    elif dst == 'hardlink':
        os.link(src, target)
    result = run([sys.executable, TOOL, str(src), str(target)], check=False)
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert f"DST '{target}' is SRC '{src}': the source would be overwritten" in result.stderr
    assert 'unpickling' not in result.stdout  # refused before reading SRC
    assert (src.stat().st_mtime_ns, src.read_bytes()) == before
