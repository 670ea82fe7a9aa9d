"""How close can any per-step online rule get to the forward pass? A lower bound, measured.

    .venv/bin/python benchmarks/accumulation_bound.py                  # H = 256, 1024; B = 16; T = 100
    .venv/bin/python benchmarks/accumulation_bound.py --hidden 1024 --with-engine

Every online rule that returns a gradient at every step (``grad`` of each step's
loss, summed by the caller) must at least add, per step and per recurrent weight,
one weight-sized product ``z^T s`` (``z = [x, h]``, ``s`` a per-output signal) to an
accumulator. This script times that minimum on the vanilla RNN recurrence
``h = tanh(z W)``, with no readout, loss or trace, side by side in one process:

* ``forward``: the recurrence alone;
* ``per_step``: the recurrence plus ``acc += z^T (1 - h^2)`` at every step;
* ``chunk K``: the same products, added to the accumulator once per ``K`` steps as
  one matrix product over ``K x B`` rows. The sum is the same, but the gradient of a
  single step is no longer available at that step.

``--with-engine`` adds the engine's forward and ``pp_prop`` training step on the
same ``rnn`` row (``bench_lib``), so the bound and the engine are read together.
Ratios are to ``forward`` of the same table. No GPU needed; on a GPU the same
script runs unchanged.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402


def recurrence_programs(hidden, batch, inputs, T, chunks):
    """Jitted programs ``f(W, xs)`` for the forward pass, per-step and chunked accumulation."""
    def cell(W, h, x):
        z = jnp.concatenate([x, h], -1)
        h_new = jnp.tanh(z @ W)
        return h_new, z, 1.0 - h_new * h_new

    def forward(W, xs):
        def body(h, x):
            return cell(W, h, x)[0], None
        return jax.lax.scan(body, jnp.zeros((batch, hidden)), xs)[0]

    def per_step(W, xs):
        def body(carry, x):
            h, acc = carry
            h, z, s = cell(W, h, x)
            return (h, acc + jnp.einsum('bi,bo->io', z, s)), None
        return jax.lax.scan(body, (jnp.zeros((batch, hidden)), jnp.zeros_like(W)), xs)[0]

    def chunked(K):
        def run(W, xs):
            def inner(h, x):
                h, z, s = cell(W, h, x)
                return h, (z, s)

            def outer(carry, xk):
                h, acc = carry
                h, (Z, S) = jax.lax.scan(inner, h, xk)
                return (h, acc + jnp.einsum('kbi,kbo->io', Z, S)), None
            blocks = xs.reshape((T // K, K) + xs.shape[1:])
            return jax.lax.scan(outer, (jnp.zeros((batch, hidden)), jnp.zeros_like(W)), blocks)[0]
        return run

    programs = {'forward': forward, 'per_step': per_step}
    for K in chunks:
        if T % K:
            raise ValueError(f'chunk {K} does not divide T={T}; pick chunks that divide the sequence length.')
        programs[f'chunk {K}'] = chunked(K)
    return {name: jax.jit(f) for name, f in programs.items()}


def time_interleaved(calls, rounds):
    """Fastest time (ms) of each zero-argument callable, one call each per round."""
    best = {name: float('inf') for name in calls}
    for f in calls.values():
        jax.block_until_ready(f())          # compile
    for _ in range(rounds):
        for name, f in calls.items():
            t0 = time.perf_counter()
            jax.block_until_ready(f())
            best[name] = min(best[name], (time.perf_counter() - t0) * 1e3)
    return best


def bound_row(hidden, batch, inputs, T, chunks, rounds, seed=0):
    """Times (ms per sequence) of the minimal programs for one size."""
    key_w, key_x = jax.random.split(jax.random.PRNGKey(seed))
    W = jax.random.normal(key_w, (inputs + hidden, hidden)) / jnp.sqrt(inputs + hidden)
    xs = jax.random.normal(key_x, (T, batch, inputs))
    programs = recurrence_programs(hidden, batch, inputs, T, chunks)
    results = [programs[name](W, xs) for name in programs]
    reference = results[1][1]
    for name, out in zip(programs, results):
        if name.startswith('chunk') and not jnp.allclose(out[1], reference, rtol=1e-4, atol=1e-3):
            raise RuntimeError(f'{name}: chunked accumulation differs from the per-step sum.')
    return time_interleaved({name: (lambda f=f: f(W, xs)) for name, f in programs.items()}, rounds)


def engine_row(hidden, batch, T):
    import bench_lib
    res = bench_lib.run_row(dict(model='rnn', hidden=hidden, batch=batch, T=T), ['forward', 'pp_prop'])
    return {f'engine {k}': v['best_ms'] for k, v in res.items() if 'best_ms' in v}


def table(rows):
    names = list(dict.fromkeys(n for _, r in rows for n in r))
    lines = ['| H B T | ' + ' | '.join(names) + ' |', '|---' * (len(names) + 1) + '|']
    for label, r in rows:
        cells = []
        for n in names:
            if n not in r:
                cells.append('–')
                continue
            base = r.get('engine forward') if n.startswith('engine') else r['forward']
            cells.append(f'{r[n]:.1f} ({r[n] / base:.2f}x)' if base else f'{r[n]:.1f}')
        lines.append(f'| {label} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--hidden', default='256,1024')
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--inputs', type=int, default=32)
    ap.add_argument('--T', type=int, default=100)
    ap.add_argument('--chunks', default='5,10,20')
    ap.add_argument('--rounds', type=int, default=15)
    ap.add_argument('--with-engine', action='store_true')
    a = ap.parse_args(argv)
    chunks = [int(k) for k in a.chunks.split(',') if k]
    rows = []
    for H in (int(h) for h in a.hidden.split(',')):
        r = bound_row(H, a.batch, a.inputs, a.T, chunks, a.rounds)
        if a.with_engine:
            r.update(engine_row(H, a.batch, a.T))
        rows.append((f'{H} {a.batch} {a.T}', r))
    print(f'ms per sequence (ratio to the forward of the same program family); '
          f'device {jax.devices()[0].device_kind}, jax {jax.__version__}')
    print(table(rows))
    return rows


if __name__ == '__main__':
    main()
