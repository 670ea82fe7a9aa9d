"""The ``braintrace-lab`` command line: the compare job end to end, its report, the lab command, bad arguments."""
import contextlib
import html
import io
import json
import re
import subprocess
import sys

import pytest

from braintrace_lab import cli
from braintrace_lab.lab.html_report import report_chart


@pytest.fixture(scope='module')
def compare_run(tmp_path_factory):
    """One tiny compare run (3 training steps of BPTT, D-RTRL and ES-D-RTRL, leaky integrators, evidence task)."""
    out = tmp_path_factory.mktemp('report') / 'sub' / 'compare.html'
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli.main(['compare', '--task', 'evidence', '--model', 'leaky', '--algorithms', 'bptt,d_rtrl,pp_prop:0.5',
                         '--epochs', '3', '--batch-size', '4', '--hidden', '4', '--seed', '1',
                         '--record-every', '1', '--eval-size', '8', '--out', str(out)])
    return code, out, stdout.getvalue(), stderr.getvalue()


def test_compare_runs_and_prints_the_table(compare_run):
    code, out, stdout, stderr = compare_run
    assert code == 0, stderr
    header = stdout.splitlines()[0].split()
    assert header[:3] == ['algorithm', 'loss', 'acc(held-out)'] and 'cos(BPTT)' in header
    names = [line.split('  ')[0] for line in stdout.splitlines()[2:5]]
    assert names == ['BPTT', 'D-RTRL', 'ES-D-RTRL (a=0.5)']         # the rules' display names, not lab labels
    assert 'acc(held-out): accuracy on 8 held-out sequences' in stdout and '±' not in stdout   # one seed
    assert 'Exact on this model: BPTT, D-RTRL; not exact: ES-D-RTRL (a=0.5)' in stdout
    assert 'bptt, d_rtrl, pp_prop:0.5 on evidence' in stderr and 'seed 1' in stderr
    d_rtrl = next(line for line in stdout.splitlines() if line.startswith('D-RTRL ')).split()
    assert float(d_rtrl[3]) > 0.9999            # exact on the leaky integrator: cosine 1 to BPTT
    assert f'report written to {out}' in stderr


def test_chunk_gives_the_same_comparison(compare_run, tmp_path):
    """``--chunk 2``: the online rules' gradients summed in chunks, so loss, accuracy and agreement
    columns equal the per-step run's (time and memory columns may differ)."""
    _, _, reference, _ = compare_run
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli.main(['compare', '--task', 'evidence', '--model', 'leaky', '--algorithms', 'bptt,d_rtrl,pp_prop:0.5',
                         '--epochs', '3', '--batch-size', '4', '--hidden', '4', '--seed', '1',
                         '--record-every', '1', '--eval-size', '8', '--chunk', '2', '--out', str(tmp_path / 'r.html')])
    assert code == 0, stderr.getvalue()

    def rows(text):
        return [[line[:17].strip()] + line[17:].split()[:4] for line in text.splitlines()[2:5]]
    got, want = rows(stdout.getvalue()), rows(reference)
    assert [r[0] for r in got] == ['BPTT', 'D-RTRL', 'ES-D-RTRL (a=0.5)']
    for g, w in zip(got, want):
        assert g[0] == w[0] and all(abs(float(a) - float(b)) <= 1e-3 * max(1.0, abs(float(b)))
                                    for a, b in zip(g[1:], w[1:])), (g, w)


def test_report_is_self_contained_html_with_table_and_explanation(compare_run):
    _, out, _, _ = compare_run
    text = out.read_text(encoding='utf-8')
    assert text.startswith('<!DOCTYPE html>') and text.rstrip().endswith('</html>')
    assert '<table class="btl-table">' in text and '<th>acc(held-out)</th>' in text
    for name in ('BPTT', 'D-RTRL', 'ES-D-RTRL (a=0.5)'):
        assert f'<td>{html.escape(name)}</td>' in text
    assert 'class="btl-explain"' in text and 'Model: leaky integrator fed by a dense matmul' in text
    assert 'agreement vs learning' in text
    # offline: no external scripts, stylesheets or images
    assert not re.search(r'<script[^>]+src=|<link[^>]+href=|<img[^>]+src=["\']http', text)
    data = json.loads(re.search(r'id="btl-data">(.*?)</script>', text, re.S).group(1).replace('<\\/', '</'))
    assert data['task'] == 'evidence' and data['config']['seeds'] == [1]
    assert set(data['curves']['d_rtrl']) >= {'steps', 'loss', 'band', 'per_seed', 'seeds'}


def test_the_default_comparison_teaches(tmp_path):
    """The default set-up (fewer steps and seeds here): a recurrent SNN on which no online rule is exact, so
    every row differs, and the output says why."""
    out = tmp_path / 'r.html'
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli.main(['compare', '--epochs', '12', '--seeds', '2', '--batch-size', '8', '--eval-size', '16',
                         '--no-progress', '--out', str(out)])
    text = stdout.getvalue()
    assert code == 0, stderr.getvalue()
    labels = ['bptt', 'd_rtrl', 'es_d_rtrl(0.9)', 'eprop(feedback=random,kappa=0.95)', 'ottt', 'ostl_recurrent']
    titles = ['BPTT', 'D-RTRL', 'ES-D-RTRL (a=0.9)', 'e-prop (feedback=random, kappa=0.95)', 'OTTT', 'OSTL (recurrent)']
    assert [line.split('  ')[0] for line in text.splitlines()[2:8]] == titles      # display names in the table
    page = out.read_text(encoding='utf-8')
    rows = json.loads(re.search(r'id="btl-data">(.*?)</script>', page, re.S).group(1).replace('<\\/', '</'))['rows']
    cos = {r['algorithm']: r['cosine_to_bptt'] for r in rows}
    err = {r['algorithm']: r['rel_error_to_bptt'] for r in rows}
    online = labels[1:]
    assert all(cos[k] < 0.9999 for k in online)                      # recurrent weights: none is exact
    for i, a in enumerate(online):                                   # and no two rules compute the same thing
        for b in online[i + 1:]:                                     # (float32 round-off is ~1e-7)
            assert max(abs(cos[a] - cos[b]), abs(err[a] - err[b])) > 1e-5, (a, b, cos, err)
    assert 'Exact on this model: BPTT; not exact: ' + ', '.join(titles[1:]) in text
    assert 'Model: a recurrent spiking network' in text and 'leaky integrate-and-fire (LIF) neurons' in page
    assert 'This model is recurrent, and D-RTRL leaves out every path through another neuron' in text
    assert 'over 2 seeds [0, 1]' in text and 'seeds 0..1' in stderr.getvalue()


def test_report_charts_handle_gaps_and_empty_data():
    nan = float('nan')
    svg = report_chart('t', [('a', [0, 1, 2, 3], [1.0, nan, 2.0, 3.0])], ylabel='y', chart_id='gap')
    assert svg.count('<svg') == 1 and 'id="btl-gap-' in svg
    empty = report_chart('nothing', [('a', [0, 1], [nan, nan])], ylabel='y')
    assert 'no data' in empty and empty.rstrip().endswith('</svg>')


def run_main(capsys, *argv):
    with pytest.raises(SystemExit) as exc:
        code = cli.main(list(argv))
        raise SystemExit(code)
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


@pytest.mark.parametrize('argv, message', [
    (['compare', '--task', 'nope'], "unknown task 'nope'; valid tasks: copy, adding, dms, evidence"),
    (['compare', '--algorithms', 'bptt,magic'], "unknown algorithm 'magic'; valid algorithms: bptt, d_rtrl, pp_prop"),
    (['compare', '--algorithms', ' , '], '--algorithms is empty'),
    (['compare', '--algorithms', 'osttp'], "algorithm 'osttp' cannot be compared in the lab runner"),
    (['compare', '--algorithms', 'd_rtrl,d-rtrl'], 'listed twice'),
    (['compare', '--algorithms', 'd_rtrl:0.5'], 'only pp_prop / es_d_rtrl take a value without a name'),
    (['compare', '--algorithms', 'pp_prop:1.5'], 'a float decay must lie in (0, 1)'),
    (['compare', '--algorithms', 'pp_prop:x'], 'decay_or_rank must be a float decay in (0, 1) or an int rank'),
    (['compare', '--algorithms', 'eprop:feedbak=random'],
     "'eprop:feedbak=random': eprop has no option 'feedbak'; valid options of eprop: feedback, kappa, feedback_seed"),
    (['compare', '--algorithms', 'eprop:kappa=1.5'], 'kappa=1.5 must lie in [0, 1), e.g. 0.9'),
    (['compare', '--algorithms', 'ottt:mode=X'], "choose 'A' (a = lam a + x) or 'O' (a = x)"),
    (['compare', '--model', 'transformer'], "unknown model 'transformer'; valid models: leaky"),
    (['compare', '--epochs', '0'], 'expected a positive integer, got 0'),
    (['compare', '--epochs', 'ten'], "expected a positive integer, got 'ten'"),
    (['compare', '--seeds', '0'], 'argument --seeds: expected a positive number of seeds per rule, e.g. --seeds 3, '
                                  'got 0'),
    (['compare', '--seeds', 'many'], "argument --seeds: expected a positive number of seeds per rule"),
    (['compare', '--eval-size', '-2'], 'argument --eval-size: expected an integer >= 0'),
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
    error_lines = [line for line in err.splitlines() if 'error:' in line]
    assert len(error_lines) == 1 and message in error_lines[0]          # one line that names the fix


def test_out_must_not_be_a_directory(capsys, tmp_path):
    code, _, err = run_main(capsys, 'compare', '--out', str(tmp_path))
    assert code == 2 and 'is a directory' in err


def test_default_algorithms_are_the_teaching_comparison():
    default = cli.default_algorithms()
    assert default == ['bptt', 'd_rtrl', 'es_d_rtrl:0.9', 'eprop:feedback=random:kappa=0.95', 'ottt',
                       'ostl_recurrent']
    valid = cli.valid_algorithms()
    assert valid[:4] == ['bptt', 'd_rtrl', 'pp_prop', 'eprop'] and len(valid) == len(set(valid))
    assert 'es_d_rtrl' not in valid and 'osttp' not in valid          # aliases and runner-less rules apart
    assert cli.parse_algorithm_list('BPTT, D-RTRL, pp_prop:8, eprop:feedback=random:kappa=0.5') == [
        ('bptt', {}), ('d_rtrl', {}), ('pp_prop', {'decay_or_rank': 8}),
        ('eprop', {'feedback': 'random', 'kappa': 0.5})]
    parser = cli.build_parser()
    args = parser.parse_args(['compare'])
    assert cli._resolve_run(args)[1:] == (cli.DEFAULT_SEEDS, cli.DEFAULT_EPOCHS) and cli.DEFAULT_SEEDS >= 3
    args = parser.parse_args(['compare', '--algorithms', 'bptt'])
    assert cli._resolve_run(args)[1] == 1                              # a chosen rule list: one seed, fast
    args = parser.parse_args(['compare', '--algorithms', 'bptt', '--seeds', '4', '--epochs', '7'])
    assert cli._resolve_run(args)[1:] == (4, 7)


def test_compare_with_seeds_prints_intervals(tmp_path):
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli.main(['compare', '--model', 'leaky', '--hidden', '4', '--algorithms', 'bptt,pp_prop:0.5',
                         '--epochs', '3', '--batch-size', '4', '--seeds', '3', '--eval-size', '8', '--no-progress',
                         '--out', str(tmp_path / 'r.html')])
    out = stdout.getvalue()
    assert code == 0, stderr.getvalue()
    assert 'seeds 0..2' in stderr.getvalue()
    assert "95 % confidence interval over 3 seeds [0, 1, 2] (Student's t, 2 degrees of freedom)" in out
    assert '±' in next(line for line in out.splitlines() if line.startswith('ES-D-RTRL (a=0.5)'))
    assert 'agreement vs learning' in out


def test_lab_command_is_built_not_started(capsys, monkeypatch, tmp_path):
    started = []
    monkeypatch.setattr(subprocess, 'call', lambda *a, **k: started.append(a) or 0)
    cmd = cli.build_lab_command(tmp_path, no_browser=True, port=8899, extra=['--ServerApp.token=abc'])
    assert cmd[:3] == [sys.executable, '-m', 'jupyterlab']
    assert f'--ServerApp.root_dir={tmp_path}' in cmd and '--no-browser' in cmd and '--port=8899' in cmd
    assert cmd[-1] == '--ServerApp.token=abc'
    code, out, _ = run_main(capsys, 'lab', '--no-browser', '--dir', str(tmp_path), '--no-copy', '--print-command',
                            '--ServerApp.token=xyz')
    assert code == 0 and not started
    assert '-m jupyterlab' in out and '--no-browser' in out and '--ServerApp.token=xyz' in out
    assert f'--ServerApp.root_dir={tmp_path}' in out
    # without --print-command it runs exactly that command (here: the stub)
    code, _, _ = run_main(capsys, 'lab', '--no-browser', '--dir', str(tmp_path), '--no-copy')
    assert code == 0 and started[0][0][-1] == '--no-browser'


def test_lab_no_copy_defaults_to_the_tutorials_folder(capsys):
    code, out, _ = run_main(capsys, 'lab', '--no-copy', '--print-command')
    assert code == 0
    folder = cli.find_tutorials()
    assert folder.name == 'tutorials' and any(folder.glob('*.ipynb'))
    assert f'--ServerApp.root_dir={folder}' in out and '--no-browser' not in out


def test_lab_rejects_a_missing_folder(capsys, tmp_path):
    code, _, err = run_main(capsys, 'lab', '--dir', str(tmp_path / 'missing'), '--no-copy')
    assert code == 2 and 'is not a directory' in err


def test_console_entry_point_help():
    proc = subprocess.run([sys.executable, '-m', 'braintrace_lab.cli', 'compare', '--help'],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for opt in ('--task', '--algorithms', '--epochs', '--seed', '--out'):
        assert opt in proc.stdout
