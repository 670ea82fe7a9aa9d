"""Where does the time of one braintrace_lab online step go?

    .venv/bin/python benchmarks/profile_step.py                       # gru H=256 B=16 T=200
    .venv/bin/python benchmarks/profile_step.py --row gru:64:16:100 --rule d_rtrl

Two views:

1. The compiled program of the whole training step (``bench_lib.make_step``) for
   each method: jaxpr equations, thunks in the time-loop body, and an estimate of
   element-wise work, ``sum over loop fusions of (ops inside x output elements)``,
   with the heaviest fusions. XLA duplicates cheap producers into every consumer
   element, so a fusion whose op count is far above the few ops of its formula
   recomputes something per element.
2. Cumulative pieces of the engine step (``StepPlan`` / engine functions, vmapped
   over the batch and scanned over T like the benchmark): forward through the
   interpreter; + learning-signal VJP (``run_signal``); + ``transition_derivatives``;
   + trace ``update``; + ``grads``; and the full training step. Differences give
   each piece's cost.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import brainstate  # noqa: E402
import brainunit as u  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import bench_lib  # noqa: E402


# ---------------------------------------------------------------- compiled program
def count_eqns(jaxpr):
    n = 0
    for e in jaxpr.eqns:
        n += 1
        for v in e.params.values():
            for sub in (v if isinstance(v, (list, tuple)) else [v]):
                inner = getattr(sub, 'jaxpr', sub)
                if hasattr(inner, 'eqns'):
                    n += count_eqns(inner)
    return n


def _computations(txt):
    comps, cur = {}, None
    for line in txt.splitlines():
        m = re.match(r'^(?:ENTRY )?%?([\w.\-]+) .*\{$', line)
        if m and not line.startswith(' '):
            cur = comps.setdefault(m.group(1), [])
            continue
        if line.startswith('}'):
            cur = None
        elif cur is not None and line.strip():
            cur.append(line.strip())
    return comps


def hlo_stats(hlo_text, top=3):
    """Thunks in the while bodies, element-wise work estimate and the heaviest fusions."""
    comps = _computations(hlo_text)
    bodies = set(re.findall(r'body=%([\w.\-]+)', hlo_text))
    trivial = ('parameter', 'get-tuple-element', 'tuple', 'bitcast', 'constant')
    thunks = 0
    for b in bodies:
        for line in comps.get(b, []):
            m = re.match(r'(?:ROOT )?%[\w.\-]+ = .*? ([\w\-]+)\(', line)
            if m and m.group(1) not in trivial:
                thunks += 1
    fusions = []
    for name, lines in comps.items():
        if name not in bodies:
            continue
        for line in lines:
            m = re.match(r'(?:ROOT )?%([\w.\-]+) = \w+\[([\d,]*)\]\S* fusion\(.*calls=%([\w.\-]+)', line)
            if not m:
                continue
            ops = [x for x in comps.get(m.group(3), []) if not re.search(r' (parameter|constant)\(', x)]
            elems = int(np.prod([int(d) for d in m.group(2).split(',') if d] or [1]))
            fusions.append((len(ops) * elems, len(ops), m.group(2), m.group(1)))
    fusions.sort(reverse=True)
    return dict(loop_thunks=thunks, work=sum(f[0] for f in fusions), top=fusions[:top])


def program_report(row, methods):
    model, hidden, batch, T = row
    print(f'\n## Compiled training step, {model} H={hidden} B={batch} (per time step of the scan)\n')
    print('| method | jaxpr eqns | loop thunks | element-wise work (ops x elems) | heaviest fusions (ops x [shape]) |')
    print('|---|---|---|---|---|')
    with brainstate.environ.context(dt=1. * u.ms):
        xs, ys = bench_lib.make_data(model, 10, batch)
        for name in methods:
            package, method = ('bt', name[3:]) if name.startswith('bt:') else ('lab', name)
            net = bench_lib.build_model(model, hidden, package)
            step = bench_lib.make_step(net, method, batch, model, package)
            n_eqns = count_eqns(step.trace(xs, ys).jaxpr.jaxpr)
            st = hlo_stats(step.lower(xs, ys).compile().as_text())
            top = ', '.join(f'{n} x [{s}]' for _, n, s, _ in st['top'])
            print(f'| {name} | {n_eqns} | {st["loop_thunks"]} | {st["work"] / 1e6:.2f} M | {top} |')


# ---------------------------------------------------------------- engine pieces
def engine_pieces(learner):
    """Cumulative per-sample step functions ``f(p, h, o, x, traces) -> (h_new, traces_new, keep)``."""
    plan = learner._plan
    coupled = getattr(learner, 'coupled_transition', False)
    kw = {'coupled': True} if coupled else {}     # OSTL's coupled per-position transition

    def forward(p, h, o, a, tr):
        outs, writes = plan.run(p, h, o, a)
        return plan.hidden_from_writes(writes), tr, outs

    def _signal(p, h, o, a):
        e0 = tuple(jnp.zeros_like(x) for x in h)
        outs, vjp_fn, (writes, record) = jax.vjp(
            lambda pp, ee: plan.run_signal(pp, ee, h, o, a), p, e0, has_aux=True)
        cot_p, g = vjp_fn(tuple(jnp.ones_like(x) for x in outs))
        return writes, record, cot_p, g

    def signal(p, h, o, a, tr):
        writes, _, cot_p, g = _signal(p, h, o, a)
        return plan.hidden_from_writes(writes), tr, (cot_p, g)

    def derivatives(p, h, o, a, tr):
        writes, record, cot_p, g = _signal(p, h, o, a)
        D, Df = plan.transition_derivatives(p, h, o, a, record, **kw)
        return plan.hidden_from_writes(writes), tr, (cot_p, g, D, Df)

    def update(p, h, o, a, tr):
        writes, record, cot_p, g = _signal(p, h, o, a)
        D, Df = plan.transition_derivatives(p, h, o, a, record, **kw)
        new = {r.key: r.engine.update(tr[r.key], r.rule, record[r.op][0], D[r.group], Df[r.key])
               for r in plan.relations}
        return plan.hidden_from_writes(writes), new, (cot_p, g)

    def grads(p, h, o, a, tr):
        writes, record, cot_p, g = _signal(p, h, o, a)
        D, Df = plan.transition_derivatives(p, h, o, a, record, **kw)
        new, dws = {}, []
        for r in plan.relations:
            new[r.key] = r.engine.update(tr[r.key], r.rule, record[r.op][0], D[r.group], Df[r.key])
            gs = jnp.stack([g[i] for i in plan.groups[r.group]], axis=-1)
            dws.append(r.engine.grads(new[r.key], r.rule, record[r.op][0], gs))
        return plan.hidden_from_writes(writes), new, (cot_p, dws)

    return dict(forward=forward, signal=signal, derivatives=derivatives, update=update, grads=grads)


def time_fn(fn, args, calls=5):
    jax.block_until_ready(fn(*args))
    ts = []
    for _ in range(calls):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        ts.append(time.perf_counter() - t0)
    return min(ts)


def pieces_report(row, rule, calls, batched=False):
    """``batched``: the model holds batched states and the learner is compiled on a batched
    input (the batch is a leading position axis to the engine) instead of ``vmap`` over samples."""
    model, hidden, batch, T = row
    style = 'batched model' if batched else 'vmap over samples'
    print(f'\n## Engine pieces, {rule} on {model} H={hidden} B={batch} T={T}, {style} '
          f'(cumulative, best of {calls}, per time step)\n')
    with brainstate.environ.context(dt=1. * u.ms):
        xs, ys = bench_lib.make_data(model, T, batch)
        net = bench_lib.build_model(model, hidden, 'lab')
        brainstate.nn.init_all_states(net, **({'batch_size': batch} if batched else {}))
        learner = bench_lib.online_rules('lab', model)[rule](net)
        learner.compile_graph(xs[0] if batched else xs[0, 0])
        plan = learner._plan
        p, h, o = plan.split(plan.read_state_leaves())
        tr = learner.etrace.value
        bcast = lambda t: jax.tree.map(lambda v: jnp.broadcast_to(v, (batch,) + v.shape), t)
        if not batched:
            h, o, tr = bcast(h), bcast(o), bcast(tr)
        print('relations: ' + ', '.join(f'{r.key} [{r.rule.family}, trace '
                                         f'{ {k: tuple(v.shape) for k, v in tr[r.key].items()} }]'
                                         for r in plan.relations))
        print(f'groups: {plan.groups}; immediate params: {plan.immediate_params}; '
              f'direct weights: {plan.direct_weights}\n')

        def scanned(piece):
            step_fn = piece if batched else jax.vmap(piece, in_axes=(None, 0, 0, 0, 0))

            @jax.jit
            def run(p, h, o, tr, xs):
                def body(c, x):
                    hh, tt = c
                    hn, tn, keep = step_fn(p, hh, o, (x,), tt)
                    # keep every result alive without stacking it over T
                    acc = sum(jnp.sum(v) for v in jax.tree.leaves(keep))
                    return (hn, tn), acc
                return jax.lax.scan(body, (h, tr), xs)
            return run

        rows, prev = [], 0.0
        for name, piece in engine_pieces(learner).items():
            t = time_fn(scanned(piece), (p, h, o, tr, xs), calls)
            rows.append((name, t, t - prev))
            prev = t
        step = bench_lib.make_step(bench_lib.build_model(model, hidden, 'lab'), rule + ('@batched' if batched else ''),
                                   batch, model, 'lab')
        t_full = time_fn(lambda a, b: bench_lib._block(step(a, b)), (xs, ys), calls)
        fwd = bench_lib.make_step(bench_lib.build_model(model, hidden, 'lab'), 'forward', batch, model, 'lab')
        t_fwd = time_fn(lambda a, b: bench_lib._block(fwd(a, b)), (xs, ys), calls)
        rows.append(('full training step (grad, custom_vjp, Vmap)', t_full, t_full - prev))
        print('| piece (cumulative) | ms per step | us per time step | added by this piece (us/t) |')
        print('|---|---|---|---|')
        print(f'| reference: model forward (bench "forward") | {1e3 * t_fwd:.1f} | {1e6 * t_fwd / T:.0f} | |')
        for name, t, d in rows:
            print(f'| {name} | {1e3 * t:.1f} | {1e6 * t / T:.0f} | {1e6 * d / T:+.0f} |')


def contraction_report(row, calls):
    """Ways to form one relation's weight gradient from its trace, on the row's sizes."""
    model, hidden, B, T = row
    I, O = bench_lib.N_IN + hidden, hidden
    k = jax.random.split(jax.random.PRNGKey(0), 4)
    x, sig = jax.random.normal(k[0], (B, I)), jax.random.normal(k[1], (B, O))
    tr, g = jax.random.normal(k[2], (B, I, O, 1)), jax.random.normal(k[3], (B, O, 1))
    D = jnp.full((B, O, 1, 1), 0.9)
    per_sample = lambda f: lambda *a: jax.vmap(f)(*a).sum(0)     # what Vmap + custom_vjp does
    cases = [
        ('pp_prop dW, per sample then batch sum (Vmap style; IODimEngine.grads)',
         per_sample(lambda a, b: jnp.einsum('...i,...o->io', a, b)), (x, sig)),
        ('pp_prop dW, one GEMM over the batch (batched model)',
         lambda a, b: jnp.einsum('...i,...o->io', a, b), (x, sig)),
        ('D-RTRL trace update alone (ParamDimEngine.update), for scale',
         lambda t, a, b, d: d[:, None, :, 0] * t + a[:, :, None, None] * b[:, None, :, None], (tr, x, sig, D)),
        ('D-RTRL dW, per sample then batch sum (Vmap style; ParamDimEngine.grads)',
         per_sample(lambda t, gg: jnp.einsum('...ios,...os->io', t, gg)), (tr, g)),
        ("D-RTRL dW, einsum '...ios,...os->io' on the batched trace (batched model)",
         lambda t, gg: jnp.einsum('...ios,...os->io', t, gg), (tr, g)),
        ('D-RTRL dW, S squeezed, jnp.sum(axis=0)',
         lambda t, gg: jnp.sum(t[..., 0] * gg[:, None, :, 0], axis=0), (tr, g)),
        ('D-RTRL dW, S squeezed, unrolled sum over the batch',
         lambda t, gg: sum(t[b, ..., 0] * gg[b, None, :, 0] for b in range(B)), (tr, g)),
    ]
    print(f'\n## Forming dW from the trace: B={B}, I={I}, O={O}, S=1 (best of {calls}, one time step)\n')
    print('| contraction | us |')
    print('|---|---|')
    for name, fn, args in cases:
        print(f'| {name} | {1e6 * time_fn(jax.jit(fn), args, calls):.0f} |')


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--row', default='gru:256:16:200', help='model:hidden:batch:T')
    ap.add_argument('--rule', default='pp_prop,d_rtrl', help='braintrace_lab rules to break down')
    ap.add_argument('--methods', default='forward,bptt,pp_prop,bt:pp_prop,d_rtrl,bt:d_rtrl')
    ap.add_argument('--calls', type=int, default=5)
    ap.add_argument('--no-program', action='store_true')
    ap.add_argument('--batched', action='store_true', help='also break down the batched-model style')
    args = ap.parse_args(argv)
    m, hdn, b, t = args.row.split(':')
    row = (m, int(hdn), int(b), int(t))
    env = bench_lib.environment()
    print(f'device {env["device"]}, load average {tuple(round(x, 2) for x in env["loadavg"])}, '
          f'commit {env["commit"]}')
    if not args.no_program:
        program_report(row, args.methods.split(','))
    contraction_report(row, max(args.calls, 20))
    for rule in args.rule.split(','):
        pieces_report(row, rule, args.calls)
        if args.batched:
            pieces_report(row, rule, args.calls, batched=True)


if __name__ == '__main__':
    main()
