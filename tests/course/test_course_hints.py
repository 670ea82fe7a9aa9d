"""Wrong answers fail, with a hint that names what is off and what to look at, and never the answer.

Each case is a mistake a student makes (a trace without the slope of tanh, a byte count
without the bias, the wrong logarithm...). The check must reject it, name the quantity
that is off, and print nothing from which the expected value can be read off directly.
The graders compute their references with the oracle: seconds per exercise.
"""
import numpy as np
import pytest

from hints import assert_wrong_with_hint

pytestmark = pytest.mark.slow


def _tanh_slope(a):
    return 1 - np.tanh(a) ** 2


CASES = [
    ('01-trace-update', lambda eps, x, a, lam: lam * eps + x[:, :, None] * np.ones_like(a)[:, None, :],
     ['off', 'slope', 'tanh'], []),
    ('01-trace-update', lambda eps, x, a, lam: eps + x[:, :, None] * _tanh_slope(a)[:, None, :],
     ['memory term', 'eps^(t-1)'], []),
    ('01-trace-update', lambda eps, x, a, lam: lam * eps + 2 * x[:, :, None] * _tanh_slope(a)[:, None, :],
     ['proportional', 'too large'], []),
    ('01-trace-update', lambda eps, x, a, lam: lam * eps[:, :, :3],
     ['shape', '(2, 4, 6)'], []),
    ('01-learning-signal', lambda h, V, y: (h @ V - y) @ V.T, ['half'], ['batch size']),
    ('01-learning-signal', lambda h, V, y: 2 * (h @ V - y) @ V.T / len(h), ['divided by the batch size'],
     ['half as large', 'Without that division']),
    ('01-learning-signal', lambda h, V, y: (h @ V - y) @ V.T / h.shape[0],
     ['divided by the batch size', 'Without that division', 'factor 2 too small'], []),
    ('01-learning-signal', lambda h, V, y: 2 * (y - h @ V) @ V.T, ['wrong sign'], []),
    ('01-learning-signal', lambda h, V, y: 2 * (h @ V - y) @ V.T + 1, ['cosine', 'chain rule'], []),
    ('02-no-trace', {'gru': {'cell.Wr.weight', 'readout.weight'}, 'lstm': {'readout.weight'},
                     'mgu': {'readout.weight', 'cell.Wf.weight'}},
     ['mgu', "'cell.Wf.weight'", 'get an eligibility trace'], []),
    ('02-no-trace', {'gru': {'readout.weight'}, 'lstm': {'readout.weight'}, 'mgu': {'readout.weight'}},
     ['gru', '1 weight(s)', 'missing', 'only through another weight'], ['cell.Wr']),
    ('02-no-trace', {'gru': 3, 'lstm': set(), 'mgu': set()}, ['set of weight paths'], []),
    ('02-alif-bytes', 16 * 41 * 100 * 4, ['half', 'states'], ['524800']),
    ('02-alif-bytes', 16 * 40 * 100 * 2 * 4, ['bias'], ['524800']),
    ('02-alif-bytes', 41 * 100 * 2 * 4, ['batch'], ['524800']),
    ('02-alif-bytes', 16 * 41 * 100 * 2, ['bytes', 'float32'], ['524800']),
    ('03-flat-loss', lambda c: np.log(10), ['does not depend on the number of classes'], ['log(']),
    ('03-flat-loss', lambda c: 1 / c, ['probability', 'cross-entropy'], []),
    ('03-flat-loss', lambda c: np.log10(c), ['logarithm'], []),
    ('03-input-scale', 4, ["'quiet'", 'larger'], ['input_scale=8']),
    ('03-input-scale', 16, ['so does 8', 'lower'], []),
    ('03-input-scale', 3, ['power of two'], []),
    ('04-es-decay', 0.5, ['at or above 0.9', 'next decay of the grid', 'is larger'], ['0.6']),
    ('04-es-decay', 0.7, ['below 0.9', 'smaller decay'], []),
    ('04-es-decay', 0.9, ['below 0.9', 'smaller decay'], []),
    ('04-es-decay', 0.65, ['not on the grid'], []),
    ('04-es-decay', 1.5, ['between 0 and 1'], []),
    ('04-lossless-rank', 2, ['approximate', 'I x (O S)'], []),
    ('04-lossless-rank', 4, ['neither does 3', 'lower'], []),
    ('05-ottt-trace', lambda a, x, tau, dt: (1 - dt / tau) * a + x, ['lambda', 'tau and dt'], ['0.8187']),
    ('05-ottt-trace', lambda a, x, tau, dt: np.exp(-dt / tau) * a + (1 - np.exp(-dt / tau)) * x,
     ['leak is right', 'input enters'], []),
    ('05-memory-ratio', 0.01, ['upside down'], []),
    ('05-memory-ratio', 40, ['too small', 'per batch'], ['100']),
    ('06-width-growth', {'D-RTRL': 64, 'ES-D-RTRL': 7.054}, ['D-RTRL', 'too large'], ['ES-D-RTRL: your']),
    ('06-width-growth', {'D-RTRL': 50.67}, ['exactly the keys'], []),
    ('06-crossover', 20, ['stores less'], ['21']),
    ('06-crossover', 22, ['stores more', 'first length', 'the same number of bytes'], ['21']),
    ('10-snap-exact-n', 3, ['still approximate', 'hops'], ['n = 4']),
    ('10-snap-exact-n', 5, ['not the smallest', 'lower n'], ['n = 4']),
    ('10-snap-exact-n', 1.5, ['whole number'], []),
    ('10-uoro-average', 32, ['1/sqrt(R)', 'not 1/R'], ['64']),
    ('10-uoro-average', 100, ['too large', 'sigma / sqrt(R)'], ['64']),
    ('06-crossover', 40, ['stores more'], ['21']),
]


@pytest.mark.parametrize('name, answer, words, never', CASES,
                         ids=[f'{c[0]}-{i}' for i, c in enumerate(CASES)])
def test_a_wrong_answer_fails_with_a_hint(name, answer, words, never, capsys):
    assert_wrong_with_hint(name, answer, words, never)


def test_the_graders_probe_the_catalog_models_they_were_written_for():
    from braintrace_lab.course import ex01_traces, ex05_snn
    params, xs, ys, exact = ex01_traces.leaky_problem()          # raises if the catalog model changed
    assert exact.shape == (ex01_traces.N_IN, ex01_traces.N_HIDDEN)
    xs5, trace = ex05_snn.ottt_problem()
    assert trace.shape == (ex05_snn.B, ex05_snn.N_IN)
