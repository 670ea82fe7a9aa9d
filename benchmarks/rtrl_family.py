"""Per-step time of the RTRL family's fast paths: UORO against the forward pass, SnAp-1 against D-RTRL.

    .venv/bin/python benchmarks/rtrl_family.py

The catalog ``rnn`` fixture (a dense tanh RNN, non-temporal readout) at H = 64 and 256,
batch 16, T = 100, float32: each rule's jitted ``etrace_grad`` over the sequence, the
forward pass the model alone scanned over the same inputs; best of 15 calls, the methods
interleaved within each repetition so that all see the same machine load. SnAp-1 runs on
the OSTL-recurrent engine there (``on_ostl``; tested equal to the dense SnAp-1).

    .venv/bin/python benchmarks/rtrl_family.py --uoro-parts

splits UORO's step instead: the learner's step with no influence update (its primal,
the learning-signal VJP, the weight gradient summed per step), then that plus the JVP in
the states, plus the VJP in the weights with fixed scales (no norms), plus the random
signs, and the full rule; each row against the same forward pass.

    .venv/bin/python benchmarks/rtrl_family.py --floor

reads the engine's UORO against the least a step can cost on this machine, in one
interleaved run: the bare recurrence ``h = tanh([x, h] W)`` (no bias, readout or loss),
that recurrence plus one weight-sized product added to an accumulator per step (the
floor of any rule that forms a weight-sized quantity every step), and UORO written by
hand for it (``accumulation_bound.uoro_program``); the engine's forward and UORO are on
the ``rnn`` fixture (bias and readout included), each ratio to its own forward pass.
"""
import os
import sys
import time
import warnings

import brainstate
import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import accumulation_bound  # noqa: E402
import braintrace_lab as bl
from braintrace_lab.algorithms.influence import UORO, _join, _split, random_signs
from braintrace_lab.models import get_fixture, mse_loss

RULES = (('d_rtrl', 'd_rtrl', {}), ('snap1', 'snap', {'n': 1}), ('ostl_recurrent', 'ostl_recurrent', {}),
         ('uoro', 'uoro', {}))


def _uoro_part(stage):
    """UORO cut after ``stage`` ('primal', 'jvp', 'vjp', 'signs'): what each piece of its step costs."""
    class Part(UORO):
        def influence_update_tree(self, f, p, s, traces):
            s_t, th_t = traces['s'], traces['theta']
            if stage == 'primal':
                return traces, f(p, s)[1]
            new_s, vjp_p, aux = jax.vjp(lambda pp: f(pp, s), p, has_aux=True)
            Js = _join(jax.jvp(lambda ss: f(p, ss)[0], (s,), (_split(s_t, s),))[1], s_t.dtype)
            if stage == 'jvp':
                return dict(traces, s=Js), aux
            key, sub = jax.random.split(jax.random.wrap_key_data(traces['key']))
            nu = random_signs(sub, s_t.shape, s_t.dtype) if stage == 'signs' else jnp.ones_like(s_t)
            nuI = _join(vjp_p(_split(nu, new_s))[0], th_t.dtype)
            return {'s': Js + nu, 'theta': th_t + nuI, 'key': jax.random.key_data(key)}, aux
    return Part


def uoro_parts(fx, H, B=16, T=100, repeats=7):
    """Best time of each cut of UORO's step and of the forward pass, interleaved."""
    with fx.context():
        xs, ys = fx.data(T=T, seed=0, batch_size=B)
        model = fx.build(batch_size=B, n_hidden=H)
        fns = {'forward': brainstate.transform.jit(
            lambda: brainstate.transform.scan(lambda c, x: (c, model(x)), 0, xs)[1])}
        for stage in ('primal', 'jvp', 'vjp', 'signs', 'uoro'):
            learner = (UORO if stage == 'uoro' else _uoro_part(stage))(fx.build(batch_size=B, n_hidden=H))
            learner.compile_graph(xs[0])
            fns[stage] = brainstate.transform.jit((lambda lr: lambda: lr.etrace_grad(xs, ys, mse_loss)[0])(learner))
        return _best(fns, repeats)


def floor_row(fx, H, B=16, T=100, repeats=15):
    """Best times of the bare programs (``bare ...``) and the engine's forward and UORO, interleaved."""
    inputs = fx.n_in
    W = jax.random.normal(jax.random.PRNGKey(0), (inputs + H, H)) / jnp.sqrt(inputs + H)
    bare = accumulation_bound.recurrence_programs(H, B, inputs, T, chunks=(), uoro=True)
    with fx.context():
        xs, ys = fx.data(T=T, seed=0, batch_size=B)
        fns = {f'bare {k}': (lambda f: lambda: f(W, xs))(f) for k, f in bare.items()}
        model = fx.build(batch_size=B, n_hidden=H)
        fns['engine forward'] = brainstate.transform.jit(
            lambda: brainstate.transform.scan(lambda c, x: (c, model(x)), 0, xs)[1])
        learner = UORO(fx.build(batch_size=B, n_hidden=H))
        learner.compile_graph(xs[0])
        fns['engine uoro'] = brainstate.transform.jit(lambda: learner.etrace_grad(xs, ys, mse_loss)[0])
        return _best(fns, repeats)


def _best(fns, repeats):
    for f in fns.values():
        jax.block_until_ready(f())
    best = {k: float('inf') for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t0 = time.perf_counter()
            jax.block_until_ready(f())
            best[k] = min(best[k], time.perf_counter() - t0)
    return best


def row(fx, H, B=16, T=100, repeats=15):
    with fx.context():
        xs, ys = fx.data(T=T, seed=0, batch_size=B)
        model = fx.build(batch_size=B, n_hidden=H)

        def forward():
            return brainstate.transform.scan(lambda c, x: (c, model(x)), 0, xs)[1]

        fns, on_ostl = {'forward': brainstate.transform.jit(forward)}, None
        for label, rule, options in RULES:
            learner = bl.compile(fx.build(batch_size=B, n_hidden=H), rule, xs[0], **options)
            on_ostl = getattr(learner, 'on_ostl', on_ostl)
            fns[label] = brainstate.transform.jit((lambda lr: lambda: lr.etrace_grad(xs, ys, mse_loss)[0])(learner))
        best = _best(fns, repeats)
    return best, on_ostl


def main():
    warnings.filterwarnings('ignore')
    fx = get_fixture('rnn')
    if '--floor' in sys.argv:
        for H in (64, 256):
            best = floor_row(fx, H)
            cells = ', '.join(f'{k} {v * 1e3:.2f} ms ({v / best[k.split()[0] + " forward"]:.1f}x)'
                              for k, v in best.items())
            print(f'rnn H={H} B=16 T=100 (1-min load {os.getloadavg()[0]:.1f}): {cells}', flush=True)
        return
    if '--uoro-parts' in sys.argv:
        for H in (64, 256):
            best = uoro_parts(fx, H)
            cells = ', '.join(f'{k} {v * 1e3:.2f} ms ({v / best["forward"]:.1f}x)' for k, v in best.items())
            print(f'rnn H={H} B=16 T=100 (1-min load {os.getloadavg()[0]:.1f}): {cells}', flush=True)
        return
    for H in (64, 256):
        best, on_ostl = row(fx, H)
        cells = ', '.join(f'{k} {v * 1e3:.2f} ms' for k, v in best.items())
        print(f'rnn H={H} B=16 T=100 (1-min load {os.getloadavg()[0]:.1f}): {cells} | '
              f'SnAp-1 / D-RTRL {best["snap1"] / best["d_rtrl"]:.2f}x, UORO / forward '
              f'{best["uoro"] / best["forward"]:.1f}x, SnAp-1 on the OSTL engine: {on_ostl}', flush=True)
    print(f'device: {jax.devices()[0].platform}; cpus: {os.cpu_count()}')


if __name__ == '__main__':
    main()
