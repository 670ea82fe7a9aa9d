"""Lab faults: non-finite steps stop loudly, interrupts keep finished work, checkpoints resume exactly.

A poisoned data source puts ``inf`` into one input at chosen steps: a tanh RNN's output stays
finite (``tanh(inf) = 1``) but the gradient of its input weights is ``0 * inf = nan``, so the
first non-finite gradient is that of ``cell.W.weight`` while the loss is finite.
"""
import contextlib
import io
import os

import braintools
import msgpack
import numpy as np
import pytest

from braintrace_lab import cli, lab
from braintrace_lab.lab import checkpoint as ckpt
from braintrace_lab.lab import compare as compare_mod
from braintrace_lab.lab.data import SourceBatch, TaskSource
from braintrace_lab.lab.html_report import render_report
from braintrace_lab.lab.record import TrainingRecord


class Poisoned(TaskSource):
    """The DMS task with ``inf`` in the first input feature at the steps in ``at``."""

    def __init__(self, task, at=()):
        super().__init__(task)
        self.at = set(at)

    def batch(self, batch_size, index=0, seed=0):
        b = super().batch(batch_size, index, seed)
        if index not in self.at:
            return b
        x = b.inputs.copy()
        x[0, :, 0] = np.inf
        return SourceBatch(x, b.targets, b.mask)


@pytest.fixture(scope='module')
def make_rnn(dms):
    return lab.fixture_model('rnn', dms, n_hidden=8)


def weights(trainer) -> dict:
    """Every leaf of every parameter as a NumPy array, by parameter path."""
    import jax
    return {k: [np.asarray(x) for x in jax.tree.leaves(st.value)] for k, st in trainer.params.items()}


def optimizer_leaves(trainer) -> list:
    import brainstate
    import jax
    return [np.asarray(x) for st in brainstate.graph.states(trainer.optimizer).values()
            for x in jax.tree.leaves(st.value)]


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(len(a[k]) == len(b[k]) and all(np.array_equal(x, y) for x, y in
                                                                      zip(a[k], b[k])) for k in a)


def run_cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


KW = dict(optimizer=0.05, batch_size=4, progress=False)


# ---------------------------------------------------------------------------- 1. no hidden failure
def test_a_nonfinite_gradient_stops_training_naming_step_rule_and_parameter(make_rnn, dms):
    tr = lab.Trainer(lab.make_learner(make_rnn, 'd_rtrl'), Poisoned(dms, at={2}), optimizer=0.05, batch_size=4)
    with pytest.raises(lab.NonFiniteError) as exc:
        tr.run(5, progress=False)
    err = exc.value
    assert isinstance(err, FloatingPointError)
    assert (err.step, err.algorithm, err.parameter) == (2, 'd_rtrl', 'cell.W.weight')
    assert "step 2 of d_rtrl: the gradient of parameter 'cell.W.weight' is not finite" in str(err)
    assert 'on_nonfinite="record"' in str(err)                      # the way to keep going
    rec = err.record
    assert rec is tr.record and rec.steps == [0, 1, 2] and rec.nonfinite_steps == [2] and rec.diverged
    assert [r['nonfinite'] for r in rec.rows()] == [False, False, True]
    assert rec.n_steps == 2 and tr.step_index == 2                  # the failed step is not counted as done
    assert str(err) in rec.warnings
    # the failed update was not applied: the weights are those after two clean steps
    ref = lab.Trainer(lab.make_learner(make_rnn, 'd_rtrl'), dms, optimizer=0.05, batch_size=4)
    ref.run(2, progress=False)
    assert same_weights(weights(tr), weights(ref))
    assert all(np.isfinite(x).all() for leaves in weights(tr).values() for x in leaves)


def test_record_mode_marks_the_rows_skips_the_update_and_goes_on(make_rnn, dms):
    with pytest.warns(RuntimeWarning, match="step 1 of d_rtrl: the gradient of parameter 'cell.W.weight'") as caught:
        rec = lab.train(lab.make_learner(make_rnn, 'd_rtrl'), Poisoned(dms, at={1, 3}), n_steps=5, record_every=2,
                        oracle='bptt', on_nonfinite='record', **KW)
    assert sum('not finite' in str(w.message) for w in caught) == 1          # once, the rest are counted
    assert rec.n_steps == 5 and rec.steps == [0, 1, 2, 3, 4]                  # non-finite steps get a row
    assert rec.nonfinite_steps == [1, 3] and rec.diverged
    assert [r['step'] for r in rec.rows() if r['nonfinite']] == [1, 3]
    assert len(rec.warnings) == 1 and 'update was skipped' in rec.warnings[0]
    assert np.isfinite(rec.loss).all()                                        # the weights stayed finite
    # the summaries do not average the non-finite rows away
    assert np.isnan(rec.mean_cosine) and np.isnan(rec.mean_relative_error)
    assert rec.count_nonfinite('cosine') == 2 and rec.count_nonfinite('loss') == 0
    assert 'diverged: 2 non-finite step(s), the first at step 1' in repr(rec)


def test_record_summaries_never_skip_nan_silently():
    rec = TrainingRecord('x', oracle='bptt')
    for step, cos in enumerate([0.9, 0.8]):
        rec.append({'step': step, 'loss': 1.0, 'accuracy': 0.5, 'cosine': cos, 'relative_error': 0.1})
    assert rec.mean_cosine == pytest.approx(0.85) and rec.mean_relative_error == pytest.approx(0.1)
    rec.append({'step': 2, 'loss': 1.0, 'accuracy': 0.5, 'cosine': float('nan'), 'relative_error': float('inf')})
    assert np.isnan(rec.mean_cosine) and np.isnan(rec.mean_relative_error)
    assert rec.count_nonfinite('cosine') == 1 and rec.count_nonfinite('relative_error') == 1
    assert np.nanmean(rec.cosine) == pytest.approx(0.85)                     # averaging the finite ones: on purpose
    with pytest.raises(ValueError, match='give one of the per-row lists'):
        rec.count_nonfinite('steps')


@pytest.mark.parametrize('lr', [float('nan'), float('inf'), -float('inf'), 0.0, 0, -0.01, np.float32('nan')])
def test_bad_learning_rates_are_refused(lr):
    with pytest.raises(ValueError) as exc:
        lab.make_optimizer(lr)
    assert f'optimizer={lr!r}: a learning rate must be a finite number > 0; pass e.g. optimizer=1e-2' in str(exc.value)


def test_train_refuses_a_bad_learning_rate_before_compiling(make_rnn, dms, monkeypatch):
    built = []
    monkeypatch.setattr(lab.LearnerFactory, 'build', lambda self, x0: built.append(x0))
    with pytest.raises(ValueError, match='optimizer=nan'):
        lab.train(lab.make_learner(make_rnn, 'd_rtrl'), dms, n_steps=2, optimizer=float('nan'), progress=False)
    assert built == []


@pytest.mark.parametrize('n, error, words', [
    (0, ValueError, 'n_steps must be a positive integer (>= 1), got 0'),
    (-3, ValueError, 'got -3'),
    (True, TypeError, 'n_steps must be a positive integer, got True (bool)'),
    (2.5, TypeError, 'got 2.5 (float)'),
    ('3', TypeError, "got '3' (str)"),
])
def test_n_steps_must_be_a_positive_integer(make_rnn, dms, n, error, words):
    with pytest.raises(error) as exc:
        lab.train(lab.make_learner(make_rnn, 'd_rtrl'), dms, n_steps=n, progress=False)
    assert words in str(exc.value)
    with pytest.raises(error):
        lab.compare_algorithms(make_rnn, dms, ['bptt'], n_steps=n, progress=False)


def test_trainer_run_and_checkpoint_every_are_checked(make_rnn, dms, tmp_path):
    tr = lab.Trainer(lab.make_learner(make_rnn, 'bptt'), dms, batch_size=2, check_liveness=False)
    with pytest.raises(ValueError, match='n_steps must be a positive integer'):
        tr.run(0)
    with pytest.raises(TypeError, match='checkpoint_every must be a positive integer'):
        lab.Trainer(lab.make_learner(make_rnn, 'bptt'), dms, checkpoint=tmp_path / 'c', checkpoint_every=False)
    with pytest.raises(ValueError, match='checkpoint_every=3 needs checkpoint=PATH'):
        lab.Trainer(lab.make_learner(make_rnn, 'bptt'), dms, checkpoint_every=3)
    with pytest.raises(ValueError, match="on_nonfinite='ignore': choose one of"):
        lab.Trainer(lab.make_learner(make_rnn, 'bptt'), dms, on_nonfinite='ignore')


def test_a_diverged_rule_reads_diverged_in_the_comparison(make_rnn, dms):
    """BPTT trains normally; D-RTRL gets an infinite-rate SGD, so its weights blow up after step 0."""
    makers = iter([lambda: braintools.optim.Adam(0.05), lambda: braintools.optim.SGD(float('inf'))])
    cmp = lab.compare_algorithms(make_rnn, dms, ['bptt', 'd_rtrl'], n_steps=3, batch_size=4, record_every=1,
                                 optimizer=lambda: next(makers)(), progress=False, measure_memory=False)
    by = {r['algorithm']: r for r in cmp.rows}
    assert by['bptt']['status'] == 'finished' and by['bptt']['n_steps'] == 3          # the others go on
    assert by['d_rtrl']['status'] == 'diverged' and by['d_rtrl']['diverged_at'] == 1
    assert by['d_rtrl']['n_steps'] == 1 and cmp.records['d_rtrl'].nonfinite_steps == [1]
    lines = {line.split()[0]: line.split() for line in cmp.table().splitlines()[2:4]}       # display names
    assert lines['D-RTRL'][1:5] == ['diverged'] * 4 and '-' not in lines['D-RTRL'][1:5]
    assert 'diverged' not in lines['BPTT']
    assert 'D-RTRL: diverged (non-finite loss or gradient) at step 1' in cmp.table()
    assert cmp.to_html().count('<td>diverged</td>') == 4 and 'at step 1' in cmp.to_html()
    d = cmp.to_dict()
    assert [r['status'] for r in d['rows']] == ['finished', 'diverged'] and d['records']['d_rtrl']['diverged']
    assert any('step 1 of d_rtrl' in w for w in cmp.records['d_rtrl'].warnings)
    page = render_report(cmp)
    assert '<td>diverged</td>' in page and 'step 1 of d_rtrl' in page


def test_compare_can_raise_at_the_first_nonfinite_step_with_the_rows_so_far(make_rnn, dms):
    with pytest.raises(lab.NonFiniteError) as exc:
        lab.compare_algorithms(make_rnn, Poisoned(dms, at={1}), ['bptt'], n_steps=3, batch_size=4, record_every=1,
                               on_nonfinite='raise', progress=False, measure_memory=False)
    assert (exc.value.step, exc.value.algorithm, exc.value.parameter) == (1, 'bptt', 'cell.W.weight')
    rows = exc.value.comparison.rows
    assert [(r['algorithm'], r['status'], r['diverged_at']) for r in rows] == [('bptt', 'diverged', 1)]
    with pytest.raises(ValueError, match="on_nonfinite='skip': choose one of"):
        lab.compare_algorithms(make_rnn, dms, ['bptt'], on_nonfinite='skip', progress=False)


def test_regression_accuracy_stays_not_applicable_in_a_diverged_row():
    rec = TrainingRecord('r', config={'algorithm': 'd_rtrl', 'kind': 'regression'})
    rec.append({'step': 0, 'loss': float('nan'), 'accuracy': float('nan'), 'nonfinite': True})
    cells = compare_mod._cells(compare_mod._row('r', rec, 5))
    assert cells[1:5] == ('diverged', '-', 'diverged', 'diverged')


# ---------------------------------------------------------------------------- 2. interrupts
def test_an_interrupt_in_train_keeps_the_finished_steps(make_rnn, dms):
    def stop(row):
        if row['step'] == 2:
            raise KeyboardInterrupt                       # a BaseException: not swallowed as a callback failure
    with pytest.raises(lab.TrainingInterrupted) as exc:
        lab.train(lab.make_learner(make_rnn, 'd_rtrl'), dms, n_steps=6, on_step=stop, **KW)
    err = exc.value
    assert isinstance(err, KeyboardInterrupt)
    assert err.record.steps == [0, 1, 2] and err.record.n_steps == 3 and err.record.interrupted
    assert err.record.warnings == [] and 'interrupted after 3 steps' in repr(err.record)
    assert 'interrupted after 3 steps: .record holds the finished steps' in str(err)


def test_an_interrupt_inside_a_step_keeps_the_steps_before_it(make_rnn, dms, monkeypatch):
    calls = []
    real = lab.Trainer.step

    def step(self):
        calls.append(self.step_index)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self)
    monkeypatch.setattr(lab.Trainer, 'step', step)
    tr = lab.Trainer(lab.make_learner(make_rnn, 'bptt'), dms, optimizer=0.05, batch_size=4)
    with pytest.raises(lab.TrainingInterrupted) as exc:
        tr.run(5, progress=False)
    assert exc.value.record is tr.record and tr.record.steps == [0, 1] and tr.record.interrupted
    assert exc.value.step == 2


def test_an_interrupt_in_compare_keeps_the_finished_rows(make_rnn, dms):
    def stop(label, row):
        if (label, row['step']) == ('d_rtrl', 1):
            raise KeyboardInterrupt
    with pytest.raises(lab.TrainingInterrupted) as exc:
        lab.compare_algorithms(make_rnn, dms, ['bptt', 'd_rtrl'], n_steps=4, batch_size=4, record_every=1,
                               on_step=stop, progress=False, measure_memory=False)
    cmp = exc.value.comparison
    assert isinstance(exc.value, KeyboardInterrupt) and cmp.interrupted and cmp.to_dict()['interrupted']
    assert [(r['algorithm'], r['n_steps'], r['status']) for r in cmp.rows] == \
        [('bptt', 2, 'interrupted'), ('d_rtrl', 2, 'interrupted')]
    assert cmp.curves['bptt']['steps'] == [0, 1] and all(np.isfinite(cmp.curves['d_rtrl']['loss']))
    assert cmp.records['bptt'].interrupted
    assert 'interrupted: the rows show the steps that finished (BPTT 2, D-RTRL 2 of 4)' in cmp.table()
    page = render_report(cmp)
    assert '(interrupted)</title>' in page and 'id="btl-interrupted"' in page


def test_cli_compare_interrupted_prints_the_finished_rows_then_resumes(tmp_path, monkeypatch):
    calls = []
    real = lab.Trainer.step

    def step(self):
        calls.append(self.record.algorithm)
        if len(calls) == 6:                     # bptt and d_rtrl have done two steps; the third is cut
            raise KeyboardInterrupt
        return real(self)
    monkeypatch.setattr(lab.Trainer, 'step', step)
    out, folder = tmp_path / 'r.html', tmp_path / 'ckpt'
    args = ['compare', '--task', 'evidence', '--algorithms', 'bptt,d_rtrl', '--epochs', '4', '--batch-size', '4',
            '--hidden', '4', '--record-every', '1', '--no-progress', '--out', str(out), '--checkpoint', str(folder),
            '--checkpoint-every', '2']
    code, stdout, stderr = run_cli(*args)
    assert code == 130, stderr
    names = [line.split()[0] for line in stdout.splitlines()[2:4]]
    assert names == ['BPTT', 'D-RTRL']
    assert 'interrupted: the rows show the steps that finished (BPTT 3, D-RTRL 2 of 4)' in stdout
    assert f'interrupted; the table above has the finished steps, report written to {out} (marked interrupted)' \
        in stderr and '--resume' in stderr
    page = out.read_text(encoding='utf-8')
    assert '(interrupted)</title>' in page and 'id="btl-interrupted"' in page
    # the same command again refuses to start over; with --resume it finishes from the checkpoints
    code, _, stderr = run_cli(*args)
    assert code == 2 and 'holds an earlier comparison; add --resume' in stderr
    calls.clear()
    code, stdout, stderr = run_cli(*args, '--resume')
    assert code == 0, stderr
    assert calls == ['bptt', 'd_rtrl', 'bptt', 'd_rtrl']         # from step 2 on: 2 more steps each
    assert 'interrupted' not in stdout and '(interrupted)' not in out.read_text(encoding='utf-8')


@pytest.mark.parametrize('argv, words', [
    (['--algorithms', ''], '--algorithms is empty'),
    (['--resume'], '--resume and --checkpoint-every need --checkpoint DIR'),
    (['--checkpoint-every', '3'], '--resume and --checkpoint-every need --checkpoint DIR'),
])
def test_cli_refuses_empty_algorithms_and_stray_checkpoint_options(argv, words):
    code, _, stderr = run_cli('compare', *argv)
    assert code == 2 and words in stderr
    assert stderr.count('error:') == 1 and stderr.strip().splitlines()[-1].startswith('braintrace-lab compare: error:')


# ---------------------------------------------------------------------------- 3. checkpoints
def test_resume_is_bit_identical_to_an_uninterrupted_run(make_rnn, dms, tmp_path):
    learner = lambda: lab.make_learner(make_rnn, 'd_rtrl')
    straight = lab.Trainer(learner(), dms, optimizer=0.05, batch_size=4)
    straight.run(6, progress=False)
    path = tmp_path / 'run.ckpt'
    first = lab.Trainer(learner(), dms, optimizer=0.05, batch_size=4, checkpoint=path, checkpoint_every=3)
    first.run(3, progress=False)
    assert first.checkpoint_step == 3 and path.exists()
    resumed = lab.Trainer(learner(), dms, optimizer=0.05, batch_size=4, resume=path)
    assert resumed.step_index == 3 and resumed.record.steps == [0, 1, 2]
    resumed.run(3, progress=False)
    assert same_weights(weights(resumed), weights(straight))
    assert all(np.array_equal(a, b) for a, b in zip(optimizer_leaves(resumed), optimizer_leaves(straight)))
    assert np.array_equal(resumed.record.loss, straight.record.loss)
    assert np.array_equal(resumed.record.accuracy, straight.record.accuracy)
    assert resumed.record.steps == straight.record.steps and resumed.record.config['resumed_at'] == [3]
    # the file is braintools' msgpack checkpoint: its reader opens it
    raw = braintools.file.msgpack_load(str(path))
    assert raw['step'] == 3 and raw['algorithm'] == 'd_rtrl' and 'cell.W.weight' in raw['params']


def test_train_resume_after_an_interrupt_gives_the_uninterrupted_record(make_rnn, dms, tmp_path):
    kw = dict(n_steps=6, record_every=2, oracle='bptt', **KW)
    straight = lab.train(lab.make_learner(make_rnn, 'pp_prop', decay_or_rank=0.8), dms, **kw)
    path = tmp_path / 'run.ckpt'

    def stop(row):
        if row['step'] == 4:
            raise KeyboardInterrupt
    with pytest.raises(lab.TrainingInterrupted, match=r'the last checkpoint \(after step 4\)'):
        lab.train(lab.make_learner(make_rnn, 'pp_prop', decay_or_rank=0.8), dms, on_step=stop, checkpoint=path,
                  checkpoint_every=2, **kw)
    with pytest.raises(FileExistsError, match='already exists; pass resume= with the same path'):
        lab.train(lab.make_learner(make_rnn, 'pp_prop', decay_or_rank=0.8), dms, checkpoint=path, **kw)
    rec = lab.train(lab.make_learner(make_rnn, 'pp_prop', decay_or_rank=0.8), dms, checkpoint=path, resume=path, **kw)
    assert rec.steps == straight.steps == [0, 2, 4, 5]
    assert np.array_equal(rec.loss, straight.loss) and np.array_equal(rec.cosine, straight.cosine)
    assert rec.n_steps == 6 and not rec.interrupted
    with pytest.raises(ValueError, match='is at step 6, past n_steps=4'):
        lab.train(lab.make_learner(make_rnn, 'pp_prop', decay_or_rank=0.8), dms, resume=path, **dict(kw, n_steps=4))


def test_a_crash_while_writing_leaves_the_last_checkpoint(make_rnn, dms, tmp_path, monkeypatch):
    path = tmp_path / 'run.ckpt'
    tr = lab.Trainer(lab.make_learner(make_rnn, 'd_rtrl'), dms, optimizer=0.05, batch_size=4, checkpoint=path,
                     checkpoint_every=2)
    tr.run(2, progress=False)
    good = path.read_bytes()

    def crash(src, dst, overwrite=False):     # the temporary file is written, the rename never happens
        assert os.path.getsize(src) > 0
        raise OSError('disk full')
    monkeypatch.setattr(braintools.file._msg_checkpoint, '_rename_fn', crash)
    with pytest.raises(OSError, match='disk full'):
        tr.run(2, progress=False)
    assert path.read_bytes() == good and os.listdir(tmp_path) == ['run.ckpt']      # no temporary file left
    monkeypatch.undo()
    again = lab.Trainer(lab.make_learner(make_rnn, 'd_rtrl'), dms, optimizer=0.05, batch_size=4, resume=path)
    assert again.step_index == 2 and again.record.steps == [0, 1]


@pytest.fixture(scope='module')
def saved_run(make_rnn, dms, tmp_path_factory):
    """A 2-step D-RTRL checkpoint of the 8-unit RNN (batch 4)."""
    path = tmp_path_factory.mktemp('ckpt') / 'run.ckpt'
    lab.train(lab.make_learner(make_rnn, 'd_rtrl'), dms, n_steps=2, checkpoint=path, **KW)
    return path


def refused(path, make_learner, data, words, error=lab.CheckpointError, **kw):
    """Resuming from ``path`` raises ``error`` with ``words``, and the file is left as it was."""
    before = path.read_bytes()
    with pytest.raises(error) as exc:
        lab.train(make_learner(), data, n_steps=4, checkpoint=path, resume=path, **dict(KW, **kw))
    assert words in str(exc.value), str(exc.value)
    assert path.read_bytes() == before
    return exc.value


@pytest.mark.parametrize('damage, words', [
    (lambda b: b[:len(b) // 2], 'cannot be read: it is truncated or not a braintrace-lab checkpoint'),
    (lambda b: b'\x00garbage\xff' * 10, 'cannot be read: it is truncated or not a braintrace-lab checkpoint'),
    (lambda b: msgpack.packb({'weights': [1, 2]}), 'is not a braintrace-lab checkpoint'),
])
def test_a_corrupt_checkpoint_is_refused(saved_run, make_rnn, dms, tmp_path, damage, words):
    path = tmp_path / 'bad.ckpt'
    path.write_bytes(damage(saved_run.read_bytes()))
    err = refused(path, lambda: lab.make_learner(make_rnn, 'd_rtrl'), dms, words)
    assert str(path) in str(err)


def test_a_checkpoint_of_another_rule_model_or_stream_is_refused(saved_run, make_rnn, dms):
    refused(saved_run, lambda: lab.make_learner(make_rnn, 'pp_prop', decay_or_rank=0.8), dms,
            "was written by rule 'd_rtrl', but this trainer runs 'pp_prop(0.8)'")
    small = lab.fixture_model('rnn', dms, n_hidden=6)
    refused(saved_run, lambda: lab.make_learner(small, 'd_rtrl'), dms,
            "is of a different model: parameter 'cell.W.weight' has shape (8,), (12, 8) there but (6,), (10, 6)")
    gru = lab.fixture_model('gru', dms, n_hidden=8)
    err = refused(saved_run, lambda: lab.make_learner(gru, 'd_rtrl'), dms, 'is of a different model: parameter(s)')
    assert "['cell.W.weight']" in str(err) and 'only in the checkpoint' in str(err)
    refused(saved_run, lambda: lab.make_learner(make_rnn, 'd_rtrl'), dms, 'was written with batch_size=4, this '
            'trainer has batch_size=2', batch_size=2)
    refused(saved_run, lambda: lab.make_learner(make_rnn, 'd_rtrl'), dms, 'was written with seed=0', seed=1)
    with pytest.raises(FileNotFoundError, match='no checkpoint at'):
        lab.train(lab.make_learner(make_rnn, 'd_rtrl'), dms, n_steps=4, resume=saved_run.parent / 'missing.ckpt', **KW)


def test_compare_resume_skips_the_finished_rules(make_rnn, dms, tmp_path):
    algos = ['bptt', 'd_rtrl', ('pp_prop', {'decay_or_rank': 0.8})]
    kw = dict(n_steps=4, batch_size=4, record_every=1, progress=False, measure_memory=False)
    straight = lab.compare_algorithms(make_rnn, dms, algos, **kw)

    def stop(label, row):
        if (label, row['step']) == ('d_rtrl', 3):        # bptt and d_rtrl are done, pp_prop is not
            raise KeyboardInterrupt
    with pytest.raises(lab.TrainingInterrupted, match='resume=True'):
        lab.compare_algorithms(make_rnn, dms, algos, on_step=stop, checkpoint=tmp_path, checkpoint_every=2, **kw)
    assert sorted(os.listdir(tmp_path)) == ['00-bptt.ckpt', '01-d_rtrl.ckpt', '02-pp_prop_0.8.ckpt',
                                            'comparison.json']
    with pytest.raises(FileExistsError, match='holds the checkpoints of an earlier comparison; pass resume=True'):
        lab.compare_algorithms(make_rnn, dms, algos, checkpoint=tmp_path, **kw)
    with pytest.raises(lab.CheckpointError, match='was run with n_steps=4, this one has n_steps=5'):
        lab.compare_algorithms(make_rnn, dms, algos, checkpoint=tmp_path, resume=True, **dict(kw, n_steps=5))
    seen = []
    cmp = lab.compare_algorithms(make_rnn, dms, algos, checkpoint=tmp_path, checkpoint_every=2, resume=True,
                                 on_step=lambda label, row: seen.append((label, row['step'])), **kw)
    assert seen == [('pp_prop(0.8)', 2), ('pp_prop(0.8)', 3)]             # only the unfinished rule trained
    assert [r['status'] for r in cmp.rows] == ['finished'] * 3 and not cmp.interrupted
    for label, curve in straight.curves.items():
        assert np.array_equal(cmp.curves[label]['loss'], curve['loss']), label
        assert cmp.curves[label]['steps'] == curve['steps']


# ---------------------------------------------------------------------------- 4. messages
def test_sequences_of_length_zero_are_refused(make_rnn):
    xs, ys = np.zeros((0, 4, 4), np.float32), np.zeros((0, 4, 2), np.float32)
    with pytest.raises(ValueError, match='the training data has sequences of length 0') as exc:
        lab.train(lab.make_learner(make_rnn, 'd_rtrl'), (xs, ys), n_steps=2, progress=False)
    assert 'at least one time step' in str(exc.value)


def test_targets_shorter_than_the_inputs_are_refused(make_rnn):
    xs, ys = np.zeros((5, 4, 4), np.float32), np.zeros((3, 4, 2), np.float32)
    with pytest.raises(ValueError) as exc:
        lab.train(lab.make_learner(make_rnn, 'd_rtrl'), (xs, ys), n_steps=2, progress=False)
    assert 'the targets are shorter than the inputs: targets have 3 time steps' in str(exc.value)
    assert 'inputs have 5' in str(exc.value) and 'one target per input step' in str(exc.value)


def test_compare_with_no_algorithms_is_refused(make_rnn, dms):
    with pytest.raises(ValueError, match='algorithms is empty: give at least one rule'):
        lab.compare_algorithms(make_rnn, dms, [], n_steps=2, progress=False)
    with pytest.raises(ValueError, match="algorithm name '' is empty"):
        lab.compare_algorithms(make_rnn, dms, ['bptt', ''], n_steps=2, progress=False)


def test_render_report_needs_a_comparison():
    with pytest.raises(TypeError) as exc:
        render_report(None)
    assert 'render_report needs a Comparison (the result of compare_algorithms), got NoneType' in str(exc.value)
