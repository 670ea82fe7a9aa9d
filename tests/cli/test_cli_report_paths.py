"""``compare --out``: a path that cannot be written is refused before training; a write that fails after
training puts the report in a temporary file instead of losing it."""
import contextlib
import io
import os
import re

import pytest

from braintrace_lab import cli

TINY = ['compare', '--task', 'dms', '--model', 'leaky', '--algorithms', 'd_rtrl', '--epochs', '2',
        '--batch-size', '2', '--hidden', '2', '--eval-size', '0', '--no-progress']


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def no_training(monkeypatch):
    import braintrace_lab.lab.compare as compare_mod

    def compare(*args, **kwargs):
        raise AssertionError('trained before --out was checked')
    monkeypatch.setattr(compare_mod, 'compare_algorithms', compare)


def test_out_under_a_file_is_refused_before_training(tmp_path, monkeypatch):
    (tmp_path / 'afile').write_text('x')
    no_training(monkeypatch)
    code, _, err = run(*TINY, '--out', str(tmp_path / 'afile' / 'report.html'))
    assert code == 2, err
    assert re.search(r"--out='.*afile/report.html' cannot be created: '.*afile' is a file, not a folder", err), err


@pytest.mark.skipif(not os.path.exists('/proc/version'), reason='needs /proc')
def test_out_that_cannot_be_written_is_refused_before_training(monkeypatch):
    no_training(monkeypatch)
    code, _, err = run(*TINY, '--out', '/proc/version')
    assert code == 2 and "--out='/proc/version' cannot be written" in err, err


def test_a_report_that_fails_to_write_after_training_goes_to_a_temporary_file(tmp_path, monkeypatch):
    import braintrace_lab.lab.compare as compare_mod
    out = tmp_path / 'gone' / 'report.html'
    real = compare_mod.compare_algorithms

    def compare_then_break_the_folder(*args, **kwargs):
        result = real(*args, **kwargs)
        (tmp_path / 'gone').write_text('a file where the folder was to be')
        return result
    monkeypatch.setattr(compare_mod, 'compare_algorithms', compare_then_break_the_folder)
    code, stdout, err = run(*TINY, '--out', str(out))
    assert code == 1 and stdout.startswith('algorithm ')           # the table was printed
    spare = re.search(r'it was written to (\S+) instead', err)
    assert spare and "the report could not be written to '" in err, err
    try:
        assert '<html' in open(spare.group(1), encoding='utf-8').read().lower()
    finally:
        os.remove(spare.group(1))
