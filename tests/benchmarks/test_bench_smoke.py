"""Smoke test of the benchmark suite: the quick benchmark's core runs on a tiny row.

No timing assertions: only that every method returns sane, positive numbers and
that the report tables can be built from them.
"""
import importlib.util
import math
import pathlib
import sys

import pytest

BENCH = pathlib.Path(__file__).resolve().parents[2] / 'benchmarks'
sys.path.insert(0, str(BENCH))

import bench_lib  # noqa: E402

_spec = importlib.util.spec_from_file_location('bench_run', BENCH / 'run.py')
bench_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_run)

pytestmark = pytest.mark.filterwarnings('ignore::UserWarning')   # braintrace's GRU reset-gate note


def test_quick_core_on_tiny_row():
    methods = ['forward', 'pp_prop']        # braintrace's own rules are exercised by run.py --quick
    row = dict(model='gru', hidden=8, batch=2, T=3)
    res = bench_lib.run_row(row, methods, min_calls=1, min_time=0.0)
    assert set(res) == set(methods)
    for name, r in res.items():
        assert 'error' not in r, (name, r)
        assert r['finite'], name
        assert r['n_calls'] >= 1
        assert 0 < r['best_ms'] <= r['median_ms'] < 60_000, (name, r)
        assert 0 <= r['compile_s'] < 600, (name, r)
        assert r['step_mb'] >= 0 and math.isfinite(r['step_mb']), (name, r)
    assert res['pp_prop']['trace_mb'] > 0

    record = [(('gru', 8, 2, 3), res, {})]
    text = bench_run.tables(record, methods)
    assert 'gru H=8 B=2 T=3' in text
    assert isinstance(bench_run.target_checks(record), str)


def test_methods_and_skips():
    assert {'forward', 'bptt', 'd_rtrl', 'pp_prop'} <= set(bench_lib.available_methods('lif', with_bt=False))
    assert set(bench_run.SNN) == {r.lower() for r in bench_lib.SNN_RULES}
    assert bench_run.skip_reason(('gru', 1024, 128, 10000), 'd_rtrl', 'cpu')
    assert bench_run.skip_reason(('gru', 64, 16, 100), 'pp_prop', 'cpu') is None


def _load_script(name):
    spec = importlib.util.spec_from_file_location(f'bench_{name}', BENCH / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_accumulation_bound_programs_agree_and_tabulate():
    bound = _load_script('accumulation_bound')
    programs = bound.recurrence_programs(hidden=6, batch=3, inputs=4, T=6, chunks=[2, 3])
    import jax
    import jax.numpy as jnp
    W = jax.random.normal(jax.random.PRNGKey(1), (10, 6)) * 0.3
    xs = jax.random.normal(jax.random.PRNGKey(2), (6, 3, 4))
    h_fwd = programs['forward'](W, xs)
    (h_step, acc_step), (h_c2, acc_c2), (h_c3, acc_c3) = (programs[k](W, xs) for k in ('per_step', 'chunk 2', 'chunk 3'))
    for h in (h_step, h_c2, h_c3):
        assert jnp.allclose(h, h_fwd, atol=1e-6)
    assert float(jnp.abs(acc_step).max()) > 0          # the accumulator really collects products
    assert jnp.allclose(acc_c2, acc_step, atol=1e-5) and jnp.allclose(acc_c3, acc_step, atol=1e-5)
    with pytest.raises(ValueError, match='chunk 4 does not divide T=6'):
        bound.recurrence_programs(hidden=6, batch=3, inputs=4, T=6, chunks=[4])
    rows = bound.main(['--hidden', '4', '--batch', '2', '--T', '4', '--chunks', '2', '--rounds', '1'])
    (label, times), = rows
    assert label == '4 2 4' and set(times) == {'forward', 'per_step', 'chunk 2'}
    assert all(0 < t < 60_000 for t in times.values())
    assert '(1.00x)' in bound.table(rows)


def test_hand_written_uoro_is_unbiased_and_runs_beside_the_engine():
    """The floor's UORO (``accumulation_bound.uoro_program``) is UORO: averaged over keys its
    gradient tends to the exact one (error about halving per 4x keys); one key alone is far off;
    and ``rtrl_family.floor_row`` times it beside the engine's forward pass and UORO."""
    import jax
    import jax.numpy as jnp
    bound = _load_script('accumulation_bound')
    H, B, I, T = 3, 2, 2, 3
    W = jax.random.normal(jax.random.PRNGKey(1), (I + H, H)) * 0.6
    xs = jax.random.normal(jax.random.PRNGKey(2), (T, B, I))

    def loss(W):
        def body(h, x):
            h = bound._cell(W, h, x)[0]
            return h, 0.5 * jnp.sum(h * h)
        return jax.lax.scan(body, jnp.zeros((B, H)), xs)[1].sum()
    exact = jax.grad(loss)(W)
    run = bound.uoro_program(H, B, I)
    h_last, _ = run(W, xs, jax.random.PRNGKey(0))
    assert jnp.allclose(h_last, bound.recurrence_programs(H, B, I, T, ())['forward'](W, xs), atol=1e-6)
    per_key = jax.jit(jax.vmap(lambda k: run(W, xs, k)[1]))(jax.random.split(jax.random.PRNGKey(0), 32_000))
    err = lambda est: float(jnp.linalg.norm(est - exact) / jnp.linalg.norm(exact))
    few, many = err(per_key[:2_000].mean(0)), err(per_key.mean(0))
    assert err(per_key[0]) > 0.2                  # one estimate is noisy: the average does the work
    assert many < 0.04 and many < 0.5 * few, (few, many)

    family = _load_script('rtrl_family')
    from braintrace_lab.models import get_fixture
    best = family.floor_row(get_fixture('rnn'), H=4, B=2, T=3, repeats=1)
    assert set(best) == {'bare forward', 'bare per_step', 'bare uoro', 'engine forward', 'engine uoro'}
    assert all(0 < t < 60 for t in best.values())


def test_step_flops_counts_one_step_of_arithmetic():
    """XLA's count of a T = 1 step: the forward pass's matrix products are all there, the
    online rule adds at least one weight-sized product per weight, and the count is
    carried into the report's arithmetic table and the pp_prop target line."""
    hidden, batch = 16, 4
    fwd = bench_lib.step_flops('rnn', hidden, batch, 'forward')
    pp = bench_lib.step_flops('rnn', hidden, batch, 'pp_prop')
    matmul = 2 * batch * (bench_lib.N_IN + hidden) * hidden      # the recurrent layer's product
    assert fwd >= matmul
    assert pp >= fwd + matmul                                     # plus z^T s for the recurrent weight
    wider = bench_lib.step_flops('rnn', 2 * hidden, batch, 'forward')
    assert wider > 1.5 * fwd                                      # a count, not a constant

    row = dict(model='rnn', hidden=hidden, batch=batch, T=3)
    res = bench_lib.run_row(row, ['forward', 'pp_prop'], min_calls=1, min_time=0.0, flops=True)
    assert res['forward']['mflop_per_step'] == pytest.approx(fwd / 1e6)
    record = [(('rnn', hidden, batch, 3), res, {})]
    assert bench_run.flop_ratio(res, 'pp_prop') == pytest.approx(pp / fwd)
    assert 'Arithmetic of one time step' in bench_run.tables(record, ['forward', 'pp_prop'])
    assert f'arithmetic {pp / fwd:.2f}x forward' in bench_run.target_checks(record)
