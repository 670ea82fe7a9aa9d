"""Comparisons over seeds: every rule gets the same K initialisations and batch streams; means and t-intervals."""
import json
import math
import os

import numpy as np
import pytest
from scipy import stats as st

from braintrace_lab import lab
from braintrace_lab.lab.seeds import optimizer_snapshot, restart

KW = dict(n_steps=4, batch_size=4, record_every=1, progress=False, measure_memory=False, eval_size=16)
RULES = ('bptt', 'd_rtrl', 'pp_prop:0.5')


@pytest.fixture(scope='module')
def three_seeds(make_rnn, dms):
    seen = []
    cmp = lab.compare_algorithms(make_rnn, dms, RULES, seeds=3, seed=5,
                                 on_step=lambda label, row: seen.append((label, row['seed'], row['step'])), **KW)
    return cmp, seen


@pytest.mark.parametrize('rule', ['bptt', 'pp_prop'])
def test_a_restarted_trainer_is_a_new_trainer_with_that_seed(make_rnn, dms, rule):
    """Restarting reuses the compiled step (no compilation) and reproduces a fresh trainer bit for bit."""
    opts = {'decay_or_rank': 0.5} if rule == 'pp_prop' else {}
    kw = dict(optimizer=0.05, batch_size=4, record_every=1, oracle=None if rule == 'bptt' else 'bptt')
    fresh = lab.Trainer(lab.make_learner(make_rnn, rule, seed=1, **opts), dms, seed=1, **kw)
    fresh.run(3, progress=False)
    reused = lab.Trainer(lab.make_learner(make_rnn, rule, seed=0, **opts), dms, seed=0, **kw)
    init = optimizer_snapshot(reused)
    reused.run(3, progress=False)
    first = reused.record
    restart(reused, 1, init)
    reused.run(3, progress=False)
    assert reused.record is not first and first.config['seed'] == 0 and reused.record.config['seed'] == 1
    assert reused.record.loss == fresh.record.loss and reused.record.cosine == fresh.record.cosine
    assert reused.record.n_compiles == 0 and reused.record.compile_steps == []
    assert first.loss != reused.record.loss                      # another seed: other weights and batches


def test_every_rule_trains_with_the_same_seeds_in_lock_step(three_seeds):
    cmp, seen = three_seeds
    assert cmp.seeds == [5, 6, 7] and cmp.config['seeds'] == [5, 6, 7]
    labels = ['bptt', 'd_rtrl', 'pp_prop(0.5)']
    assert [r['algorithm'] for r in cmp.rows] == labels and list(cmp.seed_records) == labels
    for label in labels:
        assert [rec.config['seed'] for rec in cmp.seed_records[label]] == [5, 6, 7]
        assert cmp.records[label] is cmp.seed_records[label][0]
    # seed by seed, the rules advance together; each seed starts every rule from one model and one batch
    assert seen[:3] == [('bptt', 5, 0), ('d_rtrl', 5, 0), ('pp_prop(0.5)', 5, 0)]
    assert [s for _, s, _ in seen] == sorted(s for _, s, _ in seen)
    for k in range(3):
        first = {round(recs[k].loss[0], 5) for recs in cmp.seed_records.values()}
        assert len(first) == 1
    assert cmp.seed_records['bptt'][0].loss[0] != cmp.seed_records['bptt'][1].loss[0]


def test_a_later_seed_is_the_one_seed_run_of_that_seed(make_rnn, dms, three_seeds):
    cmp, _ = three_seeds
    alone = lab.compare_algorithms(make_rnn, dms, RULES, seeds=1, seed=6, **KW)
    for label in alone.records:
        assert cmp.seed_records[label][1].loss == alone.records[label].loss
        assert cmp.seed_records[label][1].heldout_accuracy == alone.records[label].heldout_accuracy
    assert alone.rows[0]['seed'] == 6 and alone.rows[0]['n_seeds'] == 1


def test_rows_hold_the_mean_and_a_student_t_interval(three_seeds):
    cmp, _ = three_seeds
    row = next(r for r in cmp.rows if r['algorithm'] == 'd_rtrl')
    per_seed = [r['heldout_accuracy'] for r in cmp.seed_rows['d_rtrl']]
    assert row['per_seed']['heldout_accuracy'] == per_seed and row['n_seeds'] == 3
    assert row['heldout_accuracy'] == pytest.approx(np.mean(per_seed))
    half = st.t.ppf(0.975, 2) * np.std(per_seed, ddof=1) / math.sqrt(3)
    assert row['intervals']['heldout_accuracy']['half_width'] == pytest.approx(half)
    for key in ('final_loss', 'cosine_to_bptt', 'rel_error_to_bptt'):
        values = [r[key] for r in cmp.seed_rows['d_rtrl']]
        assert row[key] == pytest.approx(np.mean(values))
        lo, hi = row['intervals'][key]['lo'], row['intervals'][key]['hi']
        assert lo <= row[key] <= hi
    line = next(x for x in cmp.table().splitlines() if x.startswith('D-RTRL '))      # the display name
    assert '±' in line
    footer = cmp.table()
    assert "95 % confidence interval over 3 seeds [5, 6, 7] (Student's t, 2 degrees of freedom)" in footer


def test_curves_have_a_mean_a_band_and_every_seed(three_seeds):
    cmp, _ = three_seeds
    c = cmp.curves['pp_prop(0.5)']
    assert c['seeds'] == [5, 6, 7] and c['steps'] == [0, 1, 2, 3]
    per = np.array(c['per_seed']['loss'])
    assert per.shape == (3, 4)
    np.testing.assert_allclose(c['loss'], per.mean(axis=0))
    lo, hi = np.array(c['band']['loss']['lo']), np.array(c['band']['loss']['hi'])
    assert np.all(lo <= np.array(c['loss'])) and np.all(np.array(c['loss']) <= hi) and np.all(lo < hi)
    assert list(c['per_seed']['loss'][2]) == cmp.seed_records['pp_prop(0.5)'][2].loss


def test_to_dict_keeps_every_seed(three_seeds):
    cmp, _ = three_seeds
    d = json.loads(json.dumps(cmp.to_dict()))
    assert d['seeds'] == [5, 6, 7] and len(d['seed_records']['d_rtrl']) == 3 and len(d['seed_rows']['bptt']) == 3
    assert d['seed_records']['d_rtrl'][2]['config']['seed'] == 7
    assert d['curves']['d_rtrl']['band']['cosine']['lo'] and d['curves']['d_rtrl']['per_seed']['accuracy']
    assert d['interval'] == {'level': 0.95, 'method': "Student's t over seeds, K - 1 degrees of freedom"}
    a = d['agreement_vs_accuracy']
    assert a['n'] == 9 and len(a['runs']) == 9 and a['y'] == 'held-out accuracy'


def test_agreement_and_accuracy_are_correlated_over_rules_and_seeds(three_seeds):
    cmp, _ = three_seeds
    a = cmp.agreement_vs_accuracy
    runs = [r for rows in cmp.seed_rows.values() for r in rows]
    want = st.spearmanr([r['cosine_to_bptt'] for r in runs], [r['heldout_accuracy'] for r in runs]).statistic
    if math.isfinite(a['rho']):
        assert a['rho'] == pytest.approx(want)
        assert f'agreement vs learning: rho = {a["rho"]:+.2f}' in cmp.table()
    else:
        assert a['reason'] and 'agreement vs learning: undefined' in cmp.table()
    assert 'over 9 runs (rule x seed, BPTT at cosine 1)' in cmp.table()


def test_seeds_must_be_a_positive_integer(make_rnn, dms):
    with pytest.raises(ValueError, match='seeds must be a positive integer'):
        lab.compare_algorithms(make_rnn, dms, ['bptt'], seeds=0, progress=False)
    with pytest.raises(TypeError, match='seeds must be a positive integer, got True'):
        lab.compare_algorithms(make_rnn, dms, ['bptt'], seeds=True, progress=False)


def test_a_comparison_over_seeds_resumes_from_its_checkpoints(make_rnn, dms, tmp_path):
    rules = ['bptt', 'd_rtrl']
    straight = lab.compare_algorithms(make_rnn, dms, rules, seeds=2, **KW)

    def stop(label, row):
        if (label, row['seed'], row['step']) == ('d_rtrl', 1, 2):       # seed 0 done, seed 1 half way
            raise KeyboardInterrupt
    with pytest.raises(lab.TrainingInterrupted) as exc:
        lab.compare_algorithms(make_rnn, dms, rules, seeds=2, on_step=stop, checkpoint=tmp_path,
                               checkpoint_every=2, **KW)
    partial = exc.value.comparison
    assert partial.interrupted and [len(v) for v in partial.seed_records.values()] == [2, 2]
    assert 'in seed 1' in partial.table()
    assert sorted(os.listdir(tmp_path)) == ['00-bptt-seed0.ckpt', '01-d_rtrl-seed0.ckpt', '02-bptt-seed1.ckpt',
                                            '03-d_rtrl-seed1.ckpt', 'comparison.json']
    seen = []
    cmp = lab.compare_algorithms(make_rnn, dms, rules, seeds=2, checkpoint=tmp_path, checkpoint_every=2, resume=True,
                                 on_step=lambda label, row: seen.append((label, row['seed'], row['step'])), **KW)
    assert seen == [('bptt', 1, 2), ('d_rtrl', 1, 2), ('bptt', 1, 3), ('d_rtrl', 1, 3)]
    for label in rules:
        for a, b in zip(cmp.seed_records[label], straight.seed_records[label]):
            assert a.loss == b.loss and a.heldout_accuracy == b.heldout_accuracy



def test_the_report_shades_each_rule_s_interval_over_seeds(three_seeds, make_rnn, dms):
    """Several seeds: the report draws one band per rule on loss and accuracy, per online rule on cosine."""
    from braintrace_lab.lab.html_report import render_report
    cmp, _ = three_seeds
    page = render_report(cmp)
    assert page.count('PolyCollection') == 2 * len(RULES) + (len(RULES) - 1), page.count('PolyCollection')
    assert 'its shade the 95 % interval of that mean' in page
    one = lab.compare_algorithms(make_rnn, dms, RULES[:2], seeds=1, seed=5, **KW)
    assert 'PolyCollection' not in render_report(one)                      # negative control: nothing to shade
