"""Held-out evaluation: the comparison's accuracy is measured on sequences no rule trained on."""
import math

import numpy as np
import pytest

from braintrace_lab import lab
from braintrace_lab.lab.data import as_source
from braintrace_lab.lab.evaluate import eval_size_for, evaluate


def weights(trainer) -> list:
    import jax
    return [np.asarray(x).copy() for st in trainer.params.values() for x in jax.tree.leaves(st.value)]


def test_evaluate_scores_a_batch_like_a_training_step_does(make_rnn, dms):
    """On the batch a step is about to train on, at the same weights, evaluate gives that step's loss and accuracy."""
    tr = lab.Trainer(lab.make_learner(make_rnn, 'd_rtrl'), dms, optimizer=0.05, batch_size=4, seed=3)
    tr.run(2, progress=False)
    before = weights(tr)
    got = evaluate(tr, tr.source.batch(4, 2, 3))
    assert all(np.array_equal(a, b) for a, b in zip(before, weights(tr)))        # no weight changed
    tr.step()
    assert got['loss'] == pytest.approx(tr.record.loss[-1], rel=1e-5)
    assert got['accuracy'] == pytest.approx(tr.record.accuracy[-1])
    assert got['n'] == 4 and tr.record.heldout_size == 4 and tr.record.heldout_loss == got['loss']


def test_evaluate_averages_whole_batches_only(make_rnn, dms):
    tr = lab.Trainer(lab.make_learner(make_rnn, 'bptt'), dms, batch_size=4)
    held = tr.source.eval_batch(12)
    out = evaluate(tr, held)
    parts = [evaluate(tr, type(held)(held.inputs[:, i:i + 4], held.targets[i:i + 4], None)) for i in (0, 4, 8)]
    assert out['accuracy'] == pytest.approx(np.mean([p['accuracy'] for p in parts]))
    with pytest.raises(ValueError, match=r'not a whole number of batches of 4: draw 12 \(eval_size_for'):
        evaluate(tr, tr.source.eval_batch(10))
    assert eval_size_for(10, 4) == 12 and eval_size_for(256, 32) == 256
    with pytest.raises(ValueError, match='eval_size=0: give the number of held-out sequences'):
        eval_size_for(0, 4)


def test_the_table_accuracy_is_held_out(make_rnn, dms):
    cmp = lab.compare_algorithms(make_rnn, dms, ['bptt', 'd_rtrl'], n_steps=3, batch_size=4, progress=False,
                                 measure_memory=False, eval_size=10)
    for row, rec in zip(cmp.rows, cmp.records.values()):
        assert row['heldout_size'] == 12 == rec.heldout_size           # rounded up to whole batches
        assert row['heldout_accuracy'] == rec.heldout_accuracy and 0.0 <= row['heldout_accuracy'] <= 1.0
        assert row['final_accuracy'] == rec.final_accuracy             # the training batch's stays in the row
        assert f'{row["heldout_accuracy"]:.3f}' in next(x for x in cmp.table().splitlines()
                                                        if x.startswith(row['display_name'] + ' '))
    assert cmp.table().splitlines()[0].split()[:3] == ['algorithm', 'loss', 'acc(held-out)']
    assert "acc(held-out): accuracy on 12 held-out sequences (the task's fixed evaluation set" in cmp.table()
    assert 'held-out (12 sequences)' in repr(cmp.records['d_rtrl'])


def test_no_held_out_set_reads_not_applicable(make_rnn, dms):
    cmp = lab.compare_algorithms(make_rnn, dms, ['bptt'], n_steps=2, batch_size=4, progress=False,
                                 measure_memory=False, eval_size=0)
    assert math.isnan(cmp.rows[0]['heldout_accuracy']) and cmp.cells()[1][0][2] == '-'
    assert 'no held-out set' in cmp.table()
    with pytest.raises(ValueError, match=r'eval_size=-1: give the number of held-out sequences \(an integer >= 0'):
        lab.compare_algorithms(make_rnn, dms, ['bptt'], n_steps=2, progress=False, eval_size=-1)


def test_sources_draw_held_out_data_apart_from_training(dms):
    src = as_source(dms)
    held = src.eval_batch(8)
    np.testing.assert_array_equal(held.inputs, src.eval_batch(8).inputs)            # fixed
    np.testing.assert_array_equal(held.inputs, dms.eval_batch(8).inputs)
    fixture = as_source('leaky', T=5)
    xs = fixture.eval_batch(4).inputs
    assert xs.shape == (5, 4, 4)
    assert not any(np.allclose(xs, fixture.batch(4, i, s).inputs) for i in range(3) for s in range(3))
    assert as_source((np.zeros((3, 2, 4)), np.zeros((3, 2, 2)))).eval_batch(4) is None     # fixed arrays: none
