"""The training runner: records, agreement with the oracle, one compile, callbacks that cannot break it."""
import json
import math
import re
import warnings

import numpy as np
import pytest

from braintrace_lab import lab
from braintrace_lab.oracle import agreement, bptt_grad


def test_record_rows_are_aligned(lif_record):
    rec, rows = lif_record
    assert rec.steps == [0, 4, 8, 11]                      # every 4th step and the last
    assert rec.n_steps == 12 and len(rec.step_times) == 12
    n = len(rec.steps)
    assert len(rec.loss) == len(rec.accuracy) == len(rec.cosine) == len(rec.relative_error) == n
    assert set(rec.trace_norms) == {'w'} and set(rec.signal_norms) == {'w'}
    assert set(rec.grad_norms) == {'w', 'readout.weight'}
    for table in (rec.trace_norms, rec.signal_norms, rec.grad_norms):
        assert all(len(v) == n and all(x > 0 for x in v) for v in table.values())
    assert [r['step'] for r in rows] == rec.steps            # on_step saw every recorded row
    assert rows[0]['trace_norms']['w'] == pytest.approx(rec.trace_norms['w'][0])


def test_d_rtrl_matches_the_bptt_oracle_on_an_exact_model(lif_record):
    rec, _ = lif_record
    assert min(rec.cosine) > 0.99999 and max(rec.relative_error) < 1e-4
    for p, d in rec.param_agreement.items():
        assert min(d['cosine']) > 0.9999, p


def test_compiles_once_per_step_kind(lif_record):
    rec, _ = lif_record
    # the recording step, the plain step and the oracle: each traced exactly once
    assert rec.n_compiles == 3
    assert rec.compile_steps == [0, 1]
    assert rec.time_per_step > 0 and rec.compile_time > 0


def test_record_is_plain_data(lif_record):
    rec, _ = lif_record
    d = rec.to_dict()
    json.dumps(d)                                             # JSON-ready (NaN allowed)
    assert d['algorithm'] == 'd_rtrl' and d['task'] == 'dms' and d['oracle'] == 'bptt'
    assert d['trace_memory'] == {'w': rec.total_trace_memory} and rec.total_trace_memory > 0
    text = repr(rec)
    assert 'd_rtrl on dms' in text and 'mean cosine' in text and not re.search(r'0x[0-9a-f]{6,}', text)
    assert len(rec.rows()) == 4 and 'trace_norm[w]' in rec.rows()[0]


def test_bptt_learner_gives_the_oracle_gradient(make_lif, dms):
    import brainstate
    from braintrace_lab.lab.data import TaskSource
    from braintrace_lab.lab.learners import BPTT, sequence_grads
    src = TaskSource(dms)
    b = src.batch(4, 0, 0)
    with make_lif.context():
        model = make_lif(4)
        params = model.states(brainstate.ParamState)
        loss_t = lambda out, t: src.step_loss(out, t, b)
        ref, ref_losses = bptt_grad(model, b.inputs, loss_t)
        grads, losses, outs, _ = brainstate.transform.jit(
            lambda x: sequence_grads(BPTT(model), params, x, loss_t))(b.inputs)
    assert agreement(grads, ref).relative_error < 1e-5
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5, atol=1e-7)
    assert outs.shape == (b.T, 4, dms.n_outputs)


def test_training_lowers_the_loss(make_rnn, dms):
    rec = lab.train(lab.make_learner(make_rnn, 'bptt'), dms, n_steps=25, optimizer=0.05, record_every=1,
                    progress=False, batch_size=16, seed=3)
    assert np.mean(rec.loss[-5:]) < np.mean(rec.loss[:5])
    assert rec.oracle is None and all(math.isnan(c) for c in rec.cosine)
    assert rec.trace_memory == {'(activations)': 8 * 16 * 8 * 4}     # T x B x hidden x float32


def test_a_failing_callback_never_stops_training(make_rnn, dms):
    calls = []

    def broken(row):
        calls.append(row['step'])
        raise RuntimeError('view exploded')

    class Observer:
        def __init__(self):
            self.started, self.rows, self.ended = None, 0, None

        def on_start(self, learner):
            self.started = learner

        def on_step(self, row):
            self.rows += 1

        def on_end(self, record):
            self.ended = record

    obs = Observer()
    with pytest.warns(RuntimeWarning, match='view exploded'):
        rec = lab.train(lab.make_learner(make_rnn, 'pp_prop', decay_or_rank=0.8), dms, n_steps=3,
                        on_step=broken, callbacks=[obs], progress=False, batch_size=4)
    assert calls == [0] and obs.rows == 3 and obs.ended is rec and obs.started is not None
    assert rec.n_steps == 3 and 'view exploded' in rec.warnings[0]
    assert rec.algorithm == 'pp_prop(0.8)'


def test_a_compiled_learner_can_be_trained_directly(make_rnn, dms, capsys):
    import braintrace_lab as bl
    x0 = dms.batch(4).inputs[0]
    learner = bl.compile(make_rnn(4), 'd_rtrl', x0)
    with pytest.raises(ValueError, match='batch_size=99 but the learner was compiled for a batch of 4'):
        lab.Trainer(learner, dms, batch_size=99)              # a batch the learner cannot take: refused
    trainer = lab.Trainer(learner, dms)                       # batch size read from the learner
    assert trainer.batch_size == 4 and trainer.learner is learner
    rec = trainer.run(3, progress=True)                       # tqdm text bar outside notebooks
    assert rec.steps == [0, 1, 2] and rec.algorithm == 'd_rtrl'
    err = capsys.readouterr().err                             # the bar names the rule as people know it
    assert 'compiling D-RTRL ...' in err and 'D-RTRL: 100%' in err
    assert 'Trainer(d_rtrl on dms, batch 4, 3 steps done)' == repr(trainer)


def test_a_rule_value_trained_directly_is_named_by_its_rule(make_rnn, dms):
    import braintrace_lab as bl
    from braintrace_lab.rules import FullTrace, Rule
    x0 = dms.batch(4).inputs[0]
    learner = bl.compile(make_rnn(4), Rule('mine', FullTrace(kappa=0.5), transition='cut'), x0)
    rec = lab.Trainer(learner, dms).run(2, progress=False)
    assert rec.steps == [0, 1] and rec.algorithm == 'mine'          # not the shell's class name


def test_rtrl_oracle_and_argument_checks(make_lif, dms):
    rec = lab.train(lab.make_learner(make_lif, 'd_rtrl'), dms, n_steps=1, oracle='rtrl', progress=False,
                    batch_size=2)
    assert rec.steps == [0] and rec.cosine[0] > 0.9999 and rec.oracle_times[0] > 0
    with pytest.raises(ValueError, match='oracle'):
        lab.Trainer(lab.make_learner(make_lif, 'd_rtrl'), dms, oracle='exact')
    with pytest.raises(ValueError, match='record_every'):
        lab.Trainer(lab.make_learner(make_lif, 'd_rtrl'), dms, record_every=0)
    with pytest.raises(TypeError, match='optimizer'):
        lab.make_optimizer('adam')


def test_make_learner_and_model_factory_reprs(make_lif):
    f = lab.make_learner(make_lif, 'pp_prop', decay_or_rank=4)
    assert f.label == 'pp_prop(rank 4)'
    assert repr(make_lif) == "fixture_model('lif', n_hidden=8, scale=3.0, n_in=4, n_out=2)"
    assert repr(f).startswith("make_learner(fixture_model('lif'")
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        m1, m2 = make_lif(2), make_lif(2)
    np.testing.assert_array_equal(np.asarray(m1.w.value['weight'].mantissa),
                                  np.asarray(m2.w.value['weight'].mantissa))     # same seed, same weights


def test_every_batch_starts_from_clean_states(make_rnn, dms):
    import braintools
    import braintrace_lab as bl
    learner = bl.compile(make_rnn(4), 'd_rtrl', dms.batch(4).inputs[0])
    frozen = lambda: braintools.optim.SGD(0.0)       # no update (a bare 0.0 learning rate is refused)
    first = lab.train(learner, dms, n_steps=2, optimizer=frozen, progress=False)
    again = lab.train(learner, dms, n_steps=2, optimizer=frozen, progress=False)   # the same learner once more
    assert again.loss == pytest.approx(first.loss, rel=1e-6)
    assert again.trace_norms['cell.W.weight'] == pytest.approx(first.trace_norms['cell.W.weight'], rel=1e-5)


def test_chunked_gradients_train_like_the_per_step_ones(make_rnn, dms, monkeypatch):
    """``chunk=K``: the same summed gradient in another order, so the same training run (and the same
    recorded signal and trace magnitudes); a bad chunk is refused before anything compiles."""
    def run(chunk):
        return lab.train(lab.make_learner(make_rnn, 'pp_prop', decay_or_rank=0.8), dms, n_steps=4,
                         optimizer=0.05, record_every=2, oracle='bptt', progress=False, batch_size=8,
                         seed=1, chunk=chunk)

    ref, got = run(None), run(3)
    assert got.config['chunk'] == 3 and ref.config['chunk'] is None
    assert np.allclose(got.loss, ref.loss, rtol=1e-5) and np.allclose(got.cosine, ref.cosine, atol=1e-5)
    for table in ('grad_norms', 'signal_norms', 'trace_norms'):
        for p, values in getattr(ref, table).items():
            assert np.allclose(getattr(got, table)[p], values, rtol=1e-4), (table, p)
    assert ref.cosine[0] < 0.9999          # pp_prop on a mixing RNN: approximate, so the check is not vacuous
    # the chunked driver really ran: without its chunk products the recurrent weight's gradient is lost
    from braintrace_lab.algorithms import chunked
    monkeypatch.setattr(chunked, '_add_chunk', lambda acc, deferred, factors: acc)
    broken = run(3)
    assert broken.grad_norms['cell.W.weight'][0] < 0.5 * ref.grad_norms['cell.W.weight'][0]
    with pytest.raises(ValueError, match='chunk must be a positive int'):
        lab.train(lab.make_learner(make_rnn, 'pp_prop', decay_or_rank=0.8), dms, n_steps=1, chunk=0,
                  progress=False)
