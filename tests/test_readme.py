"""The README runs as written: its Python blocks, in order, in one namespace; its commands exist after `make`."""
import contextlib
import io
import pathlib
import re
import runpy
import shlex

import pytest

from braintrace_lab import cli

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / 'README.md'


def _blocks(lang: str) -> list:
    return re.findall(rf'^```{lang}\n(.*?)^```', README.read_text(encoding='utf-8'), re.S | re.M)


def test_readme_has_python_blocks():
    assert len(_blocks('python')) >= 2


def test_python_blocks_run_as_written(tmp_path, monkeypatch):
    """Every ```python block, one after the other as a reader would paste them (in a scratch folder)."""
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    namespace = {}
    for i, code in enumerate(_blocks('python')):
        script = tmp_path / f'readme_block_{i}.py'
        script.write_text(code, encoding='utf-8')
        with contextlib.redirect_stdout(out):
            namespace = runpy.run_path(str(script), init_globals=namespace, run_name='__main__')
    lines = out.getvalue().splitlines()
    # the online-learning example: five sequences whose loss goes down
    losses = [float(line.split()[1]) for line in lines[:5]]
    assert [line.split()[0] for line in lines[:5]] == ['0', '1', '2', '3', '4']
    assert losses[-1] < losses[0]
    # the checkpoint example: the resumed call finds the finished run
    assert lines[5].split()[0] == '40' and (tmp_path / 'run.ckpt').exists()


def _commands():
    """The command lines of the ```bash blocks (comments and continuation lines joined)."""
    out = []
    for block in _blocks('bash'):
        text = re.sub(r'\\\n\s*', ' ', block)
        for line in text.splitlines():
            line = line.split('#', 1)[0].strip()
            if line:
                out.append(line)
    return out


def test_bash_commands_work_after_make():
    """`make X` names a Makefile target; every other command runs from the venv that `make` creates."""
    targets = set(re.findall(r'^([A-Za-z][\w-]*):', (ROOT / 'Makefile').read_text(encoding='utf-8'), re.M))
    commands = _commands()
    assert commands
    for line in commands:
        words = shlex.split(line)
        if words[0] == 'make':
            assert set(words[1:]) <= targets, f'README runs {line!r}, but the Makefile has no such target'
        else:
            assert words[0].startswith('.venv/bin/'), (
                f'README runs {line!r}: after `make` that program is in .venv/bin/ (write .venv/bin/{words[0]}).')


@pytest.mark.parametrize('line', [c for c in _commands() if c.startswith('.venv/bin/braintrace-lab ')])
def test_cli_lines_parse(line):
    """Each `braintrace-lab` line of the README is accepted by the command's parser, options included."""
    args = shlex.split(line)[1:]
    parsed = cli.build_parser().parse_args(args)
    assert parsed.command == args[0]
