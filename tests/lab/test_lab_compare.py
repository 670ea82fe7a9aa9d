"""compare_algorithms: same model, task and seed for every rule; a tidy table and curves."""
import json
import math
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
    assert text.splitlines()[0].split()[:3] == ['algorithm', 'loss', 'accuracy']
    assert len(text.splitlines()) == 5 and 'pp_prop(0.9)' in text
    assert '<table' in cmp.to_html() and '<td>d_rtrl</td>' in cmp.to_html()
    d = cmp.to_dict()
    json.dumps(d)
    assert d['task'] == 'dms' and set(d['records']) == {'bptt', 'd_rtrl', 'pp_prop(0.9)'}
    assert not re.search(r'0x[0-9a-f]{6,}', repr(cmp))


def test_parse_algorithms():
    assert parse_algorithms(['BPTT', 'pp-prop']) == [('bptt', 'bptt', {}),
                                                      ('pp_prop(0.9)', 'pp_prop', {'decay_or_rank': 0.9})]
    assert parse_algorithms([{'algorithm': 'pp_prop', 'decay_or_rank': 3, 'label': 'r3'}]) == \
        [('r3', 'pp_prop', {'decay_or_rank': 3})]
    with pytest.raises(ValueError, match='distinct'):
        parse_algorithms(['d_rtrl', 'd_rtrl'])
    assert math.isnan(float('nan'))
