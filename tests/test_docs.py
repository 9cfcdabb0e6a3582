"""The docs check: no command, path or link in the documentation goes stale.

For README.md, docs/*.md and configs/*/README.md, in every fenced code block of language
bash/sh/shell/console or none, and in every inline code span:

- every repo-relative path (``configs/``, ``tools/``, ``docs/``, ``mmcoc/``, ``requirements/``,
  ``tests/``) without a placeholder (``<``, ``$``, ``*``, ``{``) exists;
- every ``make TARGET`` names a target of the Makefile;

in the fenced shell blocks:

- every ``--flag`` given to ``python tools/X.py`` (or ``.venv/bin/python tools/X.py``,
  ``tools/dist_train.sh`` -> ``tools/train.py``, ``tools/dist_test.sh`` -> ``tools/test.py``)
  appears in ``X.py --help`` (all help texts come from one subprocess, torch imported once);

and outside code, every relative markdown link ``[text](path)`` (and its ``#anchor`` in a
markdown file) resolves. Each check is parametrised per documentation file.
"""
import functools
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Tuple

import pytest

pytestmark = pytest.mark.slow  # subprocesses, exports, compiles or docs: make test-fast skips

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = sorted(
    [ROOT / 'README.md'] + list((ROOT / 'docs').glob('*.md')) +
    list((ROOT / 'configs').glob('*/README.md')))
DOC_IDS = [str(p.relative_to(ROOT)) for p in DOC_FILES]

PATH_PREFIXES = ('configs/', 'tools/', 'docs/', 'mmcoc/', 'requirements/', 'tests/')
PLACEHOLDERS = ('<', '$', '*', '{')
SHELL_LANGUAGES = {'', 'bash', 'sh', 'shell', 'console'}
SHELL_OPERATORS = {'&&', '||', ';', '|', '&', '>', '>>', '<', '2>', '2>&1', '&>'}
# the wrappers that hand their remaining arguments to a tool's own parser
WRAPPERS = {'tools/dist_train.sh': ('tools/train.py', 2),
            'tools/dist_test.sh': ('tools/test.py', 3)}
FENCE = re.compile(r'^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)')
LINK = re.compile(r'!?\[(?:[^\[\]]|\[[^\]]*\])*\]\((?P<target><[^>]*>|[^)\s]+)(?:\s+"[^"]*")?\)')
INLINE_CODE = re.compile(r'(?<!`)(`+)(?!`)(?P<code>.+?)(?<!`)\1(?!`)', re.S)


class Block(NamedTuple):
    language: str
    first_line: int  # 1-based line of the first code line
    lines: List[str]


class Doc(NamedTuple):
    path: Path
    blocks: List[Block]
    prose: List[Tuple[int, str]]  # (line number, text) outside fenced code

    def paragraphs(self) -> List[Tuple[int, str]]:
        """Runs of consecutive prose lines (inline code and links may span lines)."""
        out, last = [], None
        for number, line in self.prose:
            if out and last == number - 1 and line.strip() and out[-1][1].strip():
                out[-1] = (out[-1][0], out[-1][1] + '\n' + line)
            else:
                out.append((number, line))
            last = number
        return out


@functools.lru_cache(maxsize=None)
def parse(path: Path) -> Doc:
    blocks, prose = [], []
    fence: Optional[str] = None
    for number, line in enumerate(path.read_text(encoding='utf-8').splitlines(), 1):
        match = FENCE.match(line)
        if fence is None:
            if match:
                fence = match['fence']
                blocks.append(Block(match['info'].lower(), number + 1, []))
            else:
                prose.append((number, line))
        elif match and match['fence'][0] == fence[0] and len(match['fence']) >= len(fence) \
                and not match['info']:
            fence = None
        else:
            blocks[-1].lines.append(line)
    return Doc(path, blocks, prose)


def shell_blocks(doc: Doc) -> List[Block]:
    return [b for b in doc.blocks if b.language in SHELL_LANGUAGES]


def logical_lines(block: Block) -> List[Tuple[int, str]]:
    """Lines of a shell block with backslash continuations joined, and their first line."""
    out, pending, start = [], '', None
    for offset, line in enumerate(block.lines):
        if start is None:
            start = block.first_line + offset
        if line.rstrip().endswith('\\'):
            pending += line.rstrip()[:-1] + ' '
            continue
        out.append((start, pending + line))
        pending, start = '', None
    if pending:
        out.append((start, pending))
    return out


def strip_comment(text: str) -> str:
    """``text`` without a shell comment (a ``#`` that starts a word, outside quotes)."""
    quote = None
    for i, char in enumerate(text):
        if quote:
            quote = None if char == quote else quote
        elif char in '\'"':
            quote = char
        elif char == '#' and (i == 0 or text[i - 1].isspace()):
            return text[:i]
    return text


def tokens(text: str, shell: bool = True) -> List[str]:
    if shell:
        text = strip_comment(text)
        try:
            return shlex.split(text)
        except ValueError:  # an unbalanced quote: fall back to plain words
            pass
    return text.split()


def inline_spans(doc: Doc) -> List[Tuple[int, str]]:
    """(line, code) of every inline code span outside fenced blocks."""
    spans = []
    for number, text in doc.paragraphs():
        for match in INLINE_CODE.finditer(text):
            line = number + text[:match.start()].count('\n')
            spans.append((line, match['code'].replace('\n', ' ').strip()))
    return spans


def path_candidates(token: str) -> List[str]:
    """The repo-relative paths a token names (``--opt=PATH`` and ``key=PATH`` included)."""
    found = []
    for part in [token] + token.split('=')[1:]:
        part = part.strip('\'"`').lstrip('(').rstrip(',;:).')
        if part.startswith('./'):
            part = part[2:]
        part = part.split('::', 1)[0]  # a pytest node id names its file
        if part.startswith(PATH_PREFIXES) and not any(c in part for c in PLACEHOLDERS):
            found.append(part)
    return found


def command_units(doc: Doc) -> List[Tuple[int, List[str], bool]]:
    """(line, tokens, from a shell block) for every shell line and inline code span."""
    units = []
    for block in doc.blocks:
        if block.language == '':  # no language: a layout, a listing or commands alike
            for offset, line in enumerate(block.lines):
                units.append((block.first_line + offset, tokens(line, shell=False), True))
        elif block.language in SHELL_LANGUAGES:
            for number, line in logical_lines(block):
                units.append((number, tokens(line), True))
    for number, code in inline_spans(doc):
        units.append((number, tokens(code), False))
    return units


@functools.lru_cache(maxsize=None)
def make_targets() -> frozenset:
    targets = set()
    for line in (ROOT / 'Makefile').read_text().splitlines():
        match = re.match(r'^([A-Za-z0-9_.%/-][A-Za-z0-9_.%/ \t-]*?)\s*::?(?!=)', line)
        if match and not line.startswith('\t'):
            targets.update(match.group(1).split())
    return frozenset(t for t in targets if not t.startswith('.'))


def make_invocations(toks: List[str]) -> List[str]:
    """The targets of every ``make`` in a token list."""
    found = []
    for i, tok in enumerate(toks):
        if tok != 'make' and not tok.endswith('/make'):
            continue
        if i and not (toks[i - 1] in SHELL_OPERATORS or re.match(r'^\w+=', toks[i - 1])):
            continue  # "make" as a word, e.g. a comment-free listing
        for arg in toks[i + 1:]:
            if arg in SHELL_OPERATORS or arg.startswith('#'):
                break
            if arg.startswith('-') or '=' in arg:
                continue
            found.append(arg)
    return found


class Invocation(NamedTuple):
    script: str  # repo-relative tools/... .py
    flags: List[str]


def relative(token: str) -> str:
    return token[2:] if token.startswith('./') else token


def tool_invocations(toks: List[str]) -> List[Invocation]:
    found = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        script, args_from = None, None
        if re.search(r'(^|/)python[0-9.]*$', tok):
            j = i + 1
            while j < len(toks) and toks[j].startswith('-') and toks[j] not in ('-m', '-c'):
                j += 1  # interpreter options such as -u
            if j < len(toks) and re.match(r'^tools/.+\.py$', relative(toks[j])):
                script, args_from = relative(toks[j]), j + 1
        elif relative(tok) in WRAPPERS:
            script, skip = WRAPPERS[relative(tok)]
            args_from = i + skip
        elif re.match(r'^tools/.+\.py$', relative(tok)) and (
                i == 0 or toks[i - 1] in SHELL_OPERATORS):
            script, args_from = relative(tok), i + 1
        if script is None:
            i += 1
            continue
        flags = []
        k = args_from
        while k < len(toks) and toks[k] not in SHELL_OPERATORS:
            if toks[k].startswith('--') and len(toks[k]) > 2:
                flags.append(toks[k].split('=', 1)[0])
            k += 1
        found.append(Invocation(script, flags))
        i = k
    return found


def all_invocations() -> Dict[str, List[Tuple[Path, int, Invocation]]]:
    by_script: Dict[str, List[Tuple[Path, int, Invocation]]] = {}
    for path in DOC_FILES:
        doc = parse(path)
        for block in shell_blocks(doc):
            lines = logical_lines(block) if block.language else \
                [(block.first_line + o, line) for o, line in enumerate(block.lines)]
            for number, line in lines:
                for inv in tool_invocations(tokens(line, shell=bool(block.language))):
                    by_script.setdefault(inv.script, []).append((path, number, inv))
    return by_script


# One interpreter runs every documented script's ``--help`` in turn (torch is imported once);
# each script runs as ``python SCRIPT --help`` would run it: as __main__, its folder first on
# sys.path. A script whose help fails is reported with the end of its output.
HELP_RUNNER = r'''
import contextlib, io, json, runpy, sys
results = {}
for script in sys.argv[1:]:
    out = io.StringIO()
    saved_path, saved_argv = list(sys.path), list(sys.argv)
    sys.path[0] = __import__('os').path.dirname(__import__('os').path.abspath(script))
    sys.argv = [script, '--help']
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            runpy.run_path(script, run_name='__main__')
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
        except BaseException:
            import traceback
            traceback.print_exc()
            code = 1
    sys.path[:], sys.argv[:] = saved_path, saved_argv
    results[script] = [code, out.getvalue()]
print('\n@@HELP@@' + json.dumps(results))
'''


@functools.lru_cache(maxsize=None)
def help_texts() -> Dict[str, Tuple[int, str]]:
    scripts = sorted(s for s in all_invocations() if (ROOT / s).is_file())
    if not scripts:
        return {}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]))
    env.setdefault('OMP_NUM_THREADS', '1')
    proc = subprocess.run([sys.executable, '-c', HELP_RUNNER] + scripts, cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    marker = proc.stdout.rfind('@@HELP@@')
    if marker < 0:
        tail = (proc.stdout + proc.stderr)[-2000:]
        return {s: (1, f'the help runner failed (exit {proc.returncode}):\n{tail}')
                for s in scripts}
    return {s: tuple(v) for s, v in json.loads(proc.stdout[marker + len('@@HELP@@'):]).items()}


def github_slugs(path: Path) -> set:
    """The anchors GitHub makes for the headings of a markdown file."""
    slugs, seen = set(), {}
    for _, line in parse(path).prose:
        match = re.match(r'^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$', line)
        if not match:
            continue
        text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', match.group(1))
        slug = re.sub(r'[^\w\- ]', '', text.lower()).replace(' ', '-')
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        slugs.add(slug if count == 0 else f'{slug}-{count}')
    return slugs


def report(path: Path, problems: List[str]) -> str:
    return f'{path.relative_to(ROOT)}:\n  ' + '\n  '.join(problems)


@pytest.mark.parametrize('path', DOC_FILES, ids=DOC_IDS)
def test_paths_exist(path):
    problems = []
    for number, toks, _ in command_units(parse(path)):
        for tok in toks:
            for candidate in path_candidates(tok):
                if not (ROOT / candidate).exists():
                    problems.append(f'line {number}: {candidate} does not exist')
    assert not problems, report(path, sorted(set(problems), key=problems.index))


@pytest.mark.parametrize('path', DOC_FILES, ids=DOC_IDS)
def test_make_targets(path):
    targets = make_targets()
    problems = [f'line {number}: make {target}: no such target in the Makefile'
                for number, toks, _ in command_units(parse(path))
                for target in make_invocations(toks) if target not in targets]
    assert not problems, report(path, problems)


@pytest.mark.parametrize('path', DOC_FILES, ids=DOC_IDS)
def test_tool_flags(path):
    problems = []
    invocations = [(number, inv) for script_uses in all_invocations().values()
                   for doc_path, number, inv in script_uses if doc_path == path]
    if not invocations:
        return
    helps = help_texts()
    for number, inv in invocations:
        if inv.script not in helps:
            problems.append(f'line {number}: {inv.script} does not exist')
            continue
        code, text = helps[inv.script]
        if code != 0 or 'usage' not in text.lower():
            problems.append(f'line {number}: {inv.script} --help failed (exit {code}):\n'
                            + text.strip()[-1500:])
            continue
        for flag in inv.flags:
            if not re.search(r'(?<![\w-])' + re.escape(flag) + r'(?![\w-])', text):
                problems.append(f'line {number}: {inv.script} has no {flag} '
                                f'(not in its --help)')
    assert not problems, report(path, sorted(set(problems), key=problems.index))


@pytest.mark.parametrize('path', DOC_FILES, ids=DOC_IDS)
def test_links_resolve(path):
    problems = []
    for start, text in parse(path).paragraphs():
        # blank out inline code (keeping the newlines) so that line numbers stay right
        text = INLINE_CODE.sub(lambda m: re.sub(r'[^\n]', ' ', m.group(0)), text)
        for match in LINK.finditer(text):
            number = start + text[:match.start()].count('\n')
            target = match['target'].strip('<>')
            if re.match(r'^[a-z][a-z0-9+.-]*:', target, re.I):  # http:, https:, mailto:
                continue
            file_part, _, anchor = target.partition('#')
            resolved = (path.parent / file_part).resolve() if file_part else path
            if not resolved.exists():
                problems.append(f'line {number}: [{target}] -> {file_part} does not exist')
                continue
            if anchor and resolved.suffix == '.md' and anchor not in github_slugs(resolved):
                problems.append(f'line {number}: [{target}] -> no heading #{anchor} in '
                                f'{os.path.relpath(resolved, ROOT)}')
    assert not problems, report(path, problems)


def test_the_check_reads_commands():
    """The parsing this check relies on, on made-up lines."""
    line = ('OMP_NUM_THREADS=1 .venv/bin/python tools/a.py x --one=1 --two | tee --not-a-flag && '
            'tools/dist_train.sh configs/x.py 8 --amp  # --commented')
    assert tool_invocations(tokens(line)) == [
        Invocation('tools/a.py', ['--one', '--two']), Invocation('tools/train.py', ['--amp'])]
    assert tool_invocations(tokens('tools/dist_test.sh CFG CKPT 8 --show-dir v')) == [
        Invocation('tools/test.py', ['--show-dir'])]
    line = 'ARCH=tiny make demo-backbone && make -j2 browser test # make x'
    assert make_invocations(tokens(line)) == ['demo-backbone', 'browser', 'test']
    assert make_invocations(tokens('to make it learn')) == []
    assert path_candidates('--out=docs/x.md') == ['docs/x.md']
    assert path_candidates('tests/a.py::test_b,') == ['tests/a.py']
    assert path_candidates('configs/fec/fec_{small,base}_in1k.py') == []
    assert {'browser', 'test', 'demo'} <= make_targets()


def test_docs_found():
    """The check covers the README, the guides and every family's config README."""
    assert ROOT / 'README.md' in DOC_FILES
    assert len([p for p in DOC_FILES if p.parent.name == 'docs']) >= 2
    assert any(p.parent.parent.name == 'configs' for p in DOC_FILES)
