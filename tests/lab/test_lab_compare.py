"""compare_algorithms: same model, task and seed for every rule; a tidy table and curves."""
import json
import re

import pytest

from braintrace_lab import lab
from braintrace_lab.lab.compare import parse_algorithms


@pytest.fixture(scope='module')
def comparison(make_lif, dms):
    seen = []
    cmp = lab.compare_algorithms(make_lif, dms, algorithms=('bptt', 'd_rtrl', ('pp_prop', {'decay_or_rank': 0.9})),
                                 n_steps=3, seed=0, batch_size=4, record_every=1, progress=False,
                                 on_step=lambda label, row: seen.append((label, row['step'])))
    return cmp, seen


def test_rows_have_every_column(comparison):
    cmp, _ = comparison
    assert [r['algorithm'] for r in cmp.rows] == ['bptt', 'd_rtrl', 'pp_prop(0.9)']
    for r in cmp.rows:
        for key in lab.COMPARISON_COLUMNS:
            assert key in r, key
        assert 0.0 <= r['heldout_accuracy'] <= 1.0 and r['heldout_size'] == 256
        assert r['time_per_step_ms'] > 0 and r['peak_memory_bytes'] > 0 and r['n_steps'] == 3
    by = {r['algorithm']: r for r in cmp.rows}
    assert by['bptt']['cosine_to_bptt'] == 1.0
    assert by['d_rtrl']['cosine_to_bptt'] > 0.99999            # exact on a LIF layer
    assert 0.5 < by['pp_prop(0.9)']['cosine_to_bptt'] < 1.0
    # pp_prop keeps factors: less trace memory than D-RTRL's full per-weight trace
    assert by['pp_prop(0.9)']['trace_memory_bytes'] < by['d_rtrl']['trace_memory_bytes']


def test_same_start_same_batches(comparison):
    cmp, seen = comparison
    first = {k: c['loss'][0] for k, c in cmp.curves.items()}
    assert len({round(v, 5) for v in first.values()}) == 1       # one initial model, one first batch
    assert all(c['steps'] == [0, 1, 2] for c in cmp.curves.values())
    # trainers advance in lock step, so live curves grow together
    assert seen[:3] == [('bptt', 0), ('d_rtrl', 0), ('pp_prop(0.9)', 0)]


def test_table_and_dict(comparison):
    cmp, _ = comparison
    text = cmp.table()
    assert text.splitlines()[0].split()[:3] == ['algorithm', 'loss', 'acc(held-out)']
    # header, rule, three rows, then what the numbers are: the held-out set and agreement vs accuracy
    assert len(text.splitlines()) == 7 and '±' not in text                                  # one seed: no interval
    assert [line.split('  ')[0] for line in text.splitlines()[2:5]] == ['BPTT', 'D-RTRL', 'ES-D-RTRL (a=0.9)']
    assert [r['display_name'] for r in cmp.rows] == ['BPTT', 'D-RTRL', 'ES-D-RTRL (a=0.9)']
    assert text.splitlines()[5].startswith('acc(held-out): accuracy on 256 held-out sequences')
    assert text.splitlines()[6].startswith('agreement vs learning:')
    assert '<table' in cmp.to_html() and '<td>D-RTRL</td>' in cmp.to_html() and '<td>d_rtrl</td>' not in cmp.to_html()
    d = cmp.to_dict()
    json.dumps(d)
    assert d['task'] == 'dms' and set(d['records']) == {'bptt', 'd_rtrl', 'pp_prop(0.9)'}
    assert d['seeds'] == [0] and d['curves']['d_rtrl']['per_seed']['loss'] == [d['curves']['d_rtrl']['loss']]
    assert not re.search(r'0x[0-9a-f]{6,}', repr(cmp))


def test_the_comparison_says_which_rules_are_exact_and_why(comparison):
    cmp, _ = comparison
    text = cmp.explain()
    lines = text.splitlines()
    assert lines[0].startswith('Model: LIF layer, feed-forward input in mA, surrogate gradient (catalog model '
                               "'lif', 8 hidden units). It has no recurrent weights")
    assert lines[1].startswith('Exact on this model: BPTT, D-RTRL; not exact: ES-D-RTRL (a=0.9)')
    d_rtrl = next(x for x in lines if x.startswith('D-RTRL: exact on this model'))
    assert 'each neuron\'s state depends only on its own past' in d_rtrl
    assert next(x for x in lines if x.startswith('ES-D-RTRL (a=0.9): not exact on this model'))
    assert 'class="btl-explain"' in cmp.to_html() and cmp.to_dict()['explanation'] == lines


def test_a_recurrent_model_is_named_as_the_reason(make_rnn, dms):
    cmp = lab.compare_algorithms(make_rnn, dms, ['bptt', 'd_rtrl', 'eprop'], n_steps=2, batch_size=4,
                                 record_every=1, progress=False, measure_memory=False, eval_size=4)
    text = cmp.explain()
    assert 'It is recurrent: a hidden layer' in text
    assert 'This model is recurrent, and D-RTRL leaves out every path through another neuron\'s state' in text
    assert 'With these options it computes what D-RTRL does' in text     # e-prop, symmetric, kappa = 0
    assert [r['cosine_to_bptt'] for r in cmp.rows[1:]] == pytest.approx([cmp.rows[1]['cosine_to_bptt']] * 2)


def test_parse_algorithms():
    assert parse_algorithms(['BPTT', 'pp-prop']) == [('bptt', 'bptt', {}),
                                                      ('pp_prop(0.9)', 'pp_prop', {'decay_or_rank': 0.9})]
    assert parse_algorithms([{'algorithm': 'pp_prop', 'decay_or_rank': 3, 'label': 'r3'}]) == \
        [('r3', 'pp_prop', {'decay_or_rank': 3})]
    with pytest.raises(ValueError, match='distinct'):
        parse_algorithms(['d_rtrl', 'd_rtrl'])
    assert parse_algorithms(['pp_prop:0.5']) == [('pp_prop(0.5)', 'pp_prop', {'decay_or_rank': 0.5})]
