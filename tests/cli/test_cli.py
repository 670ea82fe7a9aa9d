"""The ``braintrace-lab`` command line: the compare job end to end, its report, the lab command, bad arguments."""
import contextlib
import html
import io
import re
import subprocess
import sys

import pytest

from braintrace_lab import cli
from braintrace_lab.lab.html_report import svg_line_chart


@pytest.fixture(scope='module')
def compare_run(tmp_path_factory):
    """One tiny compare run (3 training steps of BPTT and D-RTRL on a small evidence task)."""
    out = tmp_path_factory.mktemp('report') / 'sub' / 'compare.html'
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli.main(['compare', '--task', 'evidence', '--algorithms', 'bptt,d_rtrl,pp_prop:0.5',
                         '--epochs', '3', '--batch-size', '4', '--hidden', '4', '--seed', '1',
                         '--record-every', '1', '--out', str(out)])
    return code, out, stdout.getvalue(), stderr.getvalue()


def test_compare_runs_and_prints_the_table(compare_run):
    code, out, stdout, stderr = compare_run
    assert code == 0, stderr
    header = stdout.splitlines()[0].split()
    assert header[:3] == ['algorithm', 'loss', 'accuracy'] and 'cos(BPTT)' in header
    names = [line.split()[0] for line in stdout.splitlines()[2:] if line.strip()]
    assert names == ['bptt', 'd_rtrl', 'pp_prop(0.5)']
    d_rtrl = next(line for line in stdout.splitlines() if line.startswith('d_rtrl')).split()
    assert float(d_rtrl[3]) > 0.9999            # exact on the leaky integrator: cosine 1 to BPTT
    assert f'report written to {out}' in stderr


def test_chunk_gives_the_same_comparison(compare_run, tmp_path):
    """``--chunk 2``: the online rules' gradients summed in chunks, so loss, accuracy and agreement
    columns equal the per-step run's (time and memory columns may differ)."""
    _, _, reference, _ = compare_run
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli.main(['compare', '--task', 'evidence', '--algorithms', 'bptt,d_rtrl,pp_prop:0.5',
                         '--epochs', '3', '--batch-size', '4', '--hidden', '4', '--seed', '1',
                         '--record-every', '1', '--chunk', '2', '--out', str(tmp_path / 'r.html')])
    assert code == 0, stderr.getvalue()

    def rows(text):
        return [line.split()[:5] for line in text.splitlines()[2:] if line.strip()]
    got, want = rows(stdout.getvalue()), rows(reference)
    assert [r[0] for r in got] == ['bptt', 'd_rtrl', 'pp_prop(0.5)']
    for g, w in zip(got, want):
        assert g[0] == w[0] and all(abs(float(a) - float(b)) <= 1e-3 * max(1.0, abs(float(b)))
                                    for a, b in zip(g[1:], w[1:])), (g, w)


def test_report_is_self_contained_html_with_table_and_plots(compare_run):
    _, out, _, _ = compare_run
    text = out.read_text(encoding='utf-8')
    assert text.startswith('<!DOCTYPE html>') and text.rstrip().endswith('</html>')
    assert '<table class="btl-table">' in text
    for label in ('bptt', 'd_rtrl', 'pp_prop(0.5)'):
        assert f'<td>{html.escape(label)}</td>' in text
    titles = re.findall(r'<svg [^>]*aria-label="([^"]+)"', text)
    assert titles == ['training loss', 'accuracy', 'cosine to the BPTT gradient',
                      'relative error to the BPTT gradient']
    # every chart has data lines; the agreement charts have only the online rules
    assert text.count('class="btl-series"') >= 2 * 3 + 2 * 2
    agreement = text[text.index('Agreement with BPTT'):]
    assert 'data-label="d_rtrl"' in agreement and 'data-label="bptt"' not in agreement
    # offline: no external scripts, stylesheets or images
    assert not re.search(r'<script[^>]+src=|<link[^>]+href=|<img[^>]+src=["\']http', text)
    assert 'id="btl-data"' in text and '"task": "evidence"' in text


def test_svg_chart_handles_gaps_and_empty_data():
    nan = float('nan')
    svg = svg_line_chart('t', [('a', [0, 1, 2, 3], [1.0, nan, 2.0, 3.0])])
    assert svg.count('<polyline') == 1 and svg.count('<circle') == 1     # the NaN splits the line
    empty = svg_line_chart('nothing', [('a', [0, 1], [nan, nan])])
    assert 'no data' in empty and empty.endswith('</svg>')
    log = svg_line_chart('log', [('a', [0, 1], [0.5, 0.2])], logy=True)
    assert '<polyline' in log


def run_main(capsys, *argv):
    with pytest.raises(SystemExit) as exc:
        code = cli.main(list(argv))
        raise SystemExit(code)
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


@pytest.mark.parametrize('argv, message', [
    (['compare', '--task', 'nope'], "unknown task 'nope'; valid tasks: copy, adding, dms, evidence"),
    (['compare', '--algorithms', 'bptt,magic'], "unknown algorithm 'magic'; valid algorithms: bptt, d_rtrl"),
    (['compare', '--algorithms', ' , '], '--algorithms is empty'),
    (['compare', '--algorithms', 'osttp'], "algorithm 'osttp' cannot be compared from the command line"),
    (['compare', '--algorithms', 'd_rtrl,d-rtrl'], 'listed twice'),
    (['compare', '--algorithms', 'd_rtrl:0.5'], 'only pp_prop / es_d_rtrl take a value'),
    (['compare', '--algorithms', 'pp_prop:1.5'], 'a decay must lie in (0, 1)'),
    (['compare', '--algorithms', 'pp_prop:x'], 'must be a decay in (0, 1) or an integer rank'),
    (['compare', '--model', 'transformer'], "unknown model 'transformer'; valid models: leaky"),
    (['compare', '--epochs', '0'], 'expected a positive integer, got 0'),
    (['compare', '--epochs', 'ten'], "expected a positive integer, got 'ten'"),
    (['compare', '--seed', '-1'], 'expected an integer >= 0'),
    (['compare', '--lr', 'nan'], 'expected a positive number'),
    (['compare', '--chunk', '0'], 'expected a positive integer, got 0'),
    (['compare', '--bogus'], 'unrecognized arguments: --bogus'),
    (['frobnicate'], "invalid choice: 'frobnicate'"),
    ([], 'the following arguments are required'),
])
def test_bad_arguments_exit_2_with_a_clear_message(capsys, argv, message):
    code, out, err = run_main(capsys, *argv)
    assert code == 2, (code, err)
    assert message in err, err
    assert 'usage: braintrace-lab' in err


def test_out_must_not_be_a_directory(capsys, tmp_path):
    code, _, err = run_main(capsys, 'compare', '--out', str(tmp_path))
    assert code == 2 and 'is a directory' in err


def test_default_algorithms_are_valid_and_include_the_core_rules():
    default = cli.default_algorithms()
    assert default[:3] == ['bptt', 'd_rtrl', 'es_d_rtrl']
    assert set(default) <= set(cli.valid_algorithms())
    assert cli.parse_algorithm_list('BPTT, D-RTRL, pp_prop:8') == [
        ('bptt', {}), ('d_rtrl', {}), ('pp_prop', {'decay_or_rank': 8})]


def test_lab_command_is_built_not_started(capsys, monkeypatch, tmp_path):
    started = []
    monkeypatch.setattr(cli.subprocess, 'call', lambda *a, **k: started.append(a) or 0)
    cmd = cli.build_lab_command(tmp_path, no_browser=True, port=8899, extra=['--ServerApp.token=abc'])
    assert cmd[:3] == [sys.executable, '-m', 'jupyterlab']
    assert f'--ServerApp.root_dir={tmp_path}' in cmd and '--no-browser' in cmd and '--port=8899' in cmd
    assert cmd[-1] == '--ServerApp.token=abc'
    code, out, _ = run_main(capsys, 'lab', '--no-browser', '--dir', str(tmp_path), '--print-command',
                            '--ServerApp.token=xyz')
    assert code == 0 and not started
    assert '-m jupyterlab' in out and '--no-browser' in out and '--ServerApp.token=xyz' in out
    assert f'--ServerApp.root_dir={tmp_path}' in out
    # without --print-command it runs exactly that command (here: the stub)
    code, _, _ = run_main(capsys, 'lab', '--no-browser', '--dir', str(tmp_path))
    assert code == 0 and started[0][0][-1] == '--no-browser'


def test_lab_defaults_to_the_tutorials_folder(capsys):
    code, out, _ = run_main(capsys, 'lab', '--print-command')
    assert code == 0
    folder = cli.find_tutorials()
    assert folder.name == 'tutorials' and any(folder.glob('*.ipynb'))
    assert f'--ServerApp.root_dir={folder}' in out and '--no-browser' not in out


def test_lab_rejects_a_missing_folder(capsys, tmp_path):
    code, _, err = run_main(capsys, 'lab', '--dir', str(tmp_path / 'missing'))
    assert code == 2 and 'is not a directory' in err


def test_console_entry_point_help():
    proc = subprocess.run([sys.executable, '-m', 'braintrace_lab.cli', 'compare', '--help'],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for opt in ('--task', '--algorithms', '--epochs', '--seed', '--out'):
        assert opt in proc.stdout
