"""How close can any per-step online rule get to the forward pass? A lower bound, measured.

    .venv/bin/python benchmarks/accumulation_bound.py                  # H = 256, 1024; B = 16; T = 100
    .venv/bin/python benchmarks/accumulation_bound.py --hidden 1024 --with-engine
    .venv/bin/python benchmarks/accumulation_bound.py --hidden 64,256 --inputs 4 --chunks '' --uoro

Every online rule that returns a gradient at every step (``grad`` of each step's
loss, summed by the caller) must at least add, per step and per recurrent weight,
one weight-sized product ``z^T s`` (``z = [x, h]``, ``s`` a per-output signal) to an
accumulator. This script times that minimum on the vanilla RNN recurrence
``h = tanh(z W)``, with no readout, loss or trace, side by side in one process:

* ``forward``: the recurrence alone;
* ``per_step``: the recurrence plus ``acc += z^T (1 - h^2)`` at every step;
* ``chunk K``: the same products, added to the accumulator once per ``K`` steps as
  one matrix product over ``K x B`` rows. The sum is the same, but the gradient of a
  single step is no longer available at that step;
* ``uoro`` (``--uoro``): UORO written by hand for this recurrence and the per-step loss
  ``L_t = |h_t|^2 / 2``, with nothing but what the rule needs (:func:`uoro_program`): the
  least a UORO step can cost here, to read the engine's ``UORO`` against.

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


def _cell(W, h, x):
    z = jnp.concatenate([x, h], -1)
    h_new = jnp.tanh(z @ W)
    return h_new, z, 1.0 - h_new * h_new


def uoro_program(hidden, batch, inputs, eps=1e-7):
    """``f(W, xs, key) -> (h, acc)``: UORO (Tallec & Ollivier 2018) on ``h = tanh([x, h] W)``, by hand.

    Per step, with ``D = 1 - h'^2``, random signs ``nu`` and ``G = z^T (nu D)`` (the signs
    pulled back to the weights): ``s~ <- rho0 D (s~ W_h) + rho1 nu``, ``theta~ <- theta~ / rho0
    + G / rho1`` with ``rho0 = sqrt(|theta~| / |D (s~ W_h)|)`` and ``rho1 = sqrt(|G| / |nu|)``;
    the step's gradient ``(h' . s~) theta~`` (``h'`` is ``dL_t/dh'``) is added to ``acc``.
    Unbiased: averaged over keys, ``acc`` tends to the exact gradient of ``sum_t L_t``.
    """
    from braintrace_lab.algorithms.influence import random_signs

    def run(W, xs, key):
        def body(carry, x):
            h, s_t, th_t, acc, key = carry
            key, sub = jax.random.split(key)
            h, z, D = _cell(W, h, x)
            Js = D * (s_t @ W[inputs:])
            nu = random_signs(sub, h.shape, h.dtype)
            G = z.T @ (nu * D)
            rho0 = jnp.sqrt((jnp.linalg.norm(th_t) + eps) / (jnp.linalg.norm(Js) + eps))
            rho1 = jnp.sqrt((jnp.linalg.norm(G) + eps) / (jnp.sqrt(1.0 * nu.size) + eps))
            s_t = rho0 * Js + rho1 * nu
            th_t = th_t * (1 / rho0) + G * (1 / rho1)
            return (h, s_t, th_t, acc + jnp.vdot(h, s_t) * th_t, key), None
        zeros_h, zeros_w = jnp.zeros((batch, hidden)), jnp.zeros((inputs + hidden, hidden))
        out = jax.lax.scan(body, (zeros_h, zeros_h, zeros_w, zeros_w, key), xs)[0]
        return out[0], out[3]
    return run


def recurrence_programs(hidden, batch, inputs, T, chunks, uoro=False):
    """Jitted programs ``f(W, xs)`` for the forward pass, per-step and chunked accumulation
    (and, with ``uoro``, :func:`uoro_program` with a fixed key)."""
    cell = _cell

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
    if uoro:
        by_hand = uoro_program(hidden, batch, inputs)
        programs['uoro'] = lambda W, xs: by_hand(W, xs, jax.random.PRNGKey(0))
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


def bound_row(hidden, batch, inputs, T, chunks, rounds, seed=0, uoro=False):
    """Times (ms per sequence) of the minimal programs for one size."""
    key_w, key_x = jax.random.split(jax.random.PRNGKey(seed))
    W = jax.random.normal(key_w, (inputs + hidden, hidden)) / jnp.sqrt(inputs + hidden)
    xs = jax.random.normal(key_x, (T, batch, inputs))
    programs = recurrence_programs(hidden, batch, inputs, T, chunks, uoro)
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
    ap.add_argument('--uoro', action='store_true', help='add UORO written by hand for the same recurrence')
    a = ap.parse_args(argv)
    chunks = [int(k) for k in a.chunks.split(',') if k]
    rows = []
    for H in (int(h) for h in a.hidden.split(',')):
        r = bound_row(H, a.batch, a.inputs, a.T, chunks, a.rounds, uoro=a.uoro)
        if a.with_engine:
            r.update(engine_row(H, a.batch, a.T))
        rows.append((f'{H} {a.batch} {a.T}', r))
    print(f'ms per sequence (ratio to the forward of the same program family); '
          f'device {jax.devices()[0].device_kind}, jax {jax.__version__}')
    print(table(rows))
    return rows


if __name__ == '__main__':
    main()
