"""View models behind the widgets: graph layout with exactness regimes, trace heatmaps, buffers."""
import json

import numpy as np
import pytest

import braintrace_lab as bl
from braintrace_lab.lab.views import (downsample, exactness_regimes, graph_view_model, heatmap_payload,
                                      recurrent_input_ops, trace_heatmap)
from braintrace_lab.models import get_fixture


def _learner(name, algorithm='d_rtrl', step=False, **opts):
    fx = get_fixture(name)
    with fx.context():
        model = fx.build(batch_size=2)
        xs, _ = fx.data(T=4, seed=0, batch_size=2)
        learner = bl.compile(model, algorithm, xs[0], **opts)
        if step:
            learner(xs[0])                     # one step: non-zero traces
    return learner


@pytest.fixture(scope='module')
def lif():
    return _learner('lif', step=True)


def test_graph_layout_names_and_edges(lif):
    vm = graph_view_model(lif)
    json.dumps(vm)
    labels = {n['id']: n['label'] for n in vm['nodes']}
    assert labels['param:w'] == 'w' and labels['param:readout.weight'] == 'readout.weight'
    assert labels['group:g0'] == 'g0: neuron.V' and labels['op:0'] == 'op0:matmul' and 'output' in labels
    assert {n['x'] for n in vm['nodes'] if n['kind'] == 'param'} == {0}
    assert all(0 < n['y'] < 1 for n in vm['nodes'])
    kinds = {(e['source'], e['target']): e['kind'] for e in vm['edges']}
    assert kinds[('op:0', 'group:g0')] == 'relation' and kinds[('op:1', 'output')] == 'readout'
    assert vm['excluded'] == [{'param': 'readout.weight', 'status': 'non_temporal',
                               'reason': lif.graph.param('readout.weight').reason}]
    assert vm['algorithm'] == 'd_rtrl' and '1 relation(s)' in vm['summary']


def test_node_details_carry_shapes_memory_and_regime(lif):
    vm = graph_view_model(lif)
    w = next(n for n in vm['nodes'] if n['id'] == 'param:w')['details']
    assert w['regime'] == 'exact' and 'D-RTRL' in w['regime_text']
    assert w['trace_memory_bytes'] == lif.trace_memory()['w'] > 0
    assert w['shapes'] == [[6], [5, 6]] and w['trace_shapes']['w@op0->g0'] == [[2, 6, 1], [2, 5, 6, 1]]
    g = next(n for n in vm['nodes'] if n['id'] == 'group:g0')['details']
    assert g['states'] == ['neuron.V'] and g['varshape'] == [2, 6]
    assert g['trace_memory_bytes'] == w['trace_memory_bytes']


def test_regimes_follow_structure_and_rule():
    rnn = _learner('rnn')
    assert 0 in recurrent_input_ops(rnn)                         # [x, h] feeds the recurrent matmul
    assert exactness_regimes(rnn.graph, rnn)['cell.W.weight']['regime'] == 'approximate'
    pp = _learner('leaky', 'pp_prop', decay_or_rank=0.9)
    assert 0 not in recurrent_input_ops(pp)                      # only x feeds the leaky units' matmul
    reg = exactness_regimes(pp.graph, pp)
    assert reg['w']['regime'] == 'approximate' and 'decay 0.9' in reg['w']['text']
    assert reg['readout.weight']['regime'] == 'exact'
    assert exactness_regimes(pp.graph, algorithm='bptt')['w']['regime'] == 'exact'
    with pytest.raises(ValueError, match='no ETP graph'):
        from braintrace_lab.lab import BPTT
        graph_view_model(BPTT(pp.model))


def test_heatmaps_of_each_trace_layout():
    full = {'w': np.arange(2 * 3 * 4 * 1, dtype=np.float32).reshape(2, 3, 4, 1), 'b': np.zeros((2, 4, 1))}
    h = trace_heatmap(full)
    assert h.shape == (3, 4) and h[0, 0] == pytest.approx((0 + 12) / 2)        # mean over the batch
    fac = {'x': np.array([[1., -2.]]), 'f': np.array([[[3.], [-1.], [0.5]]])}
    np.testing.assert_allclose(trace_heatmap(fac), np.outer([1, 2], [3, 1, 0.5]))
    lowrank = {'u': np.ones((1, 2, 1), np.float32), 'v': np.full((1, 1, 3, 1), 2., np.float32)}
    np.testing.assert_allclose(trace_heatmap(lowrank), np.full((2, 3), 2.))
    sparse = {'w': np.ones((2, 7, 1), np.float32)}
    assert trace_heatmap(sparse, 'sparse_matmul').shape == (1, 7)
    assert trace_heatmap({'ew': np.ones((2, 5, 1))}).shape == (2, 5)


def test_downsample_block_means():
    a = np.arange(130 * 3, dtype=np.float32).reshape(130, 3)
    d = downsample(a, 64)
    assert d.shape == (44, 3) and d.dtype == np.float32 and d.flags['C_CONTIGUOUS']
    assert d[0, 0] == pytest.approx(a[:3, 0].mean())
    assert downsample(np.ones((10, 10))).shape == (10, 10)


def test_heatmap_payload_is_one_float32_buffer(lif):
    traces = lif.eligibility_traces()
    panels, buf = heatmap_payload(traces, max_size=4)
    (p,) = panels
    assert (p['key'], p['param'], p['rows'], p['cols'], p['offset']) == ('w@op0->g0', 'w', 3, 3, 0)
    data = np.frombuffer(buf, np.float32)
    assert data.size == 9 and p['vmax'] == pytest.approx(data.max())
    np.testing.assert_allclose(data.reshape(3, 3), downsample(trace_heatmap(traces['w@op0->g0']), 4))
