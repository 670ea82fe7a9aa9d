"""Core of the benchmark suite: models, one training step per method, and a timed row.

A *training step* is the seed-tutorial step: per-sample states made inside ``jit``
with ``vmap_new_states``, the model (or learner) vmapped over the batch with
``brainstate.nn.Vmap``, a ``scan`` over time and, for the online rules, ``grad``
of the per-step loss inside the scan with the gradients summed (no optimizer).
``bptt`` takes ``grad`` of the summed loss through the scan; ``forward`` runs the
same scan with no gradient at all.

Method names: ``forward``, ``bptt``, ``d_rtrl``, ``pp_prop`` (and, on ``'lif'``, the
SNN rules of ``braintrace_lab`` in ``SNN_RULES`` that it has) run on the model built
from ``braintrace_lab.nn``; ``bt:d_rtrl`` and ``bt:pp_prop`` run on the same model
built from ``braintrace.nn`` (same sizes, initialisers, seed and step code; the
random draws differ because the layers lay their weights out differently). A
suffix ``@batched`` (``pp_prop@batched``) runs a rule on a batched model instead
of ``Vmap``: states ``(batch, ...)`` and the learner compiled on a batched input.

>>> res = run_row(dict(model='gru', hidden=16, batch=2, T=5), ['forward', 'pp_prop'], min_calls=2)
>>> res['pp_prop']['best_ms'] > 0
True
"""
from __future__ import annotations

import hashlib
import os
import pathlib
import platform
import subprocess
import time

import brainpy
import brainstate
import braintools
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np

N_IN = 32
N_OUT = 10
DECAY = 0.9                       # pp_prop's decay_or_rank
SNN_RULES = ('EProp', 'OTTT', 'OTPE', 'OSTLRecurrent')   # benchmarked on 'lif' if braintrace_lab has them


# ---------------------------------------------------------------- models
def _nn(package):
    if package == 'lab':
        import braintrace_lab.nn as nn
    elif package == 'bt':
        import braintrace.nn as nn
    else:
        raise ValueError(f"package must be 'lab' or 'bt', got {package!r}")
    return nn


class RateNet(brainstate.nn.Module):
    """A recurrent rate cell (vanilla tanh RNN or GRU) and a leaky rate readout."""

    def __init__(self, nn, cell, n_in, n_hidden, n_out):
        super().__init__()
        self.hidden = n_hidden
        w = braintools.init.XavierNormal()
        cls = nn.ValinaRNNCell if cell == 'rnn' else nn.GRUCell
        self.cell = cls(n_in, n_hidden, w_init=w, activation='tanh')
        self.out = nn.LeakyRateReadout(n_hidden, n_out, tau=20. * u.ms)

    def update(self, x):
        return self.out(self.cell(x))


class LIFNet(brainstate.nn.Module):
    """The seed tutorial's recurrent LIF net: Linear([x, spikes]) in mA -> LIF -> leaky readout."""

    def __init__(self, nn, n_in, n_hidden, n_out):
        super().__init__()
        self.hidden = n_hidden
        self.linear = nn.Linear(n_in + n_hidden, n_hidden, w_init=braintools.init.KaimingNormal(unit=u.mA),
                                b_init=braintools.init.ZeroInit(unit=u.mA))
        self.neuron = brainpy.state.LIF(n_hidden, tau=20. * u.ms, R=1. * u.ohm, V_th=1. * u.mV,
                                        V_reset=0. * u.mV, V_rest=0. * u.mV,
                                        spk_fun=braintools.surrogate.ReluGrad(), spk_reset='soft')
        self.out = nn.LeakyRateReadout(n_hidden, n_out, tau=20. * u.ms)

    def update(self, x):
        spikes = self.neuron.get_spike()
        self.neuron(self.linear(jnp.concatenate([x, spikes], axis=-1)))
        return self.out(self.neuron())


def build_model(kind, hidden, package='lab', seed=0):
    brainstate.random.seed(seed)
    nn = _nn(package)
    if kind in ('rnn', 'gru'):
        return RateNet(nn, kind, N_IN, hidden, N_OUT)
    if kind == 'lif':
        return LIFNet(nn, N_IN, hidden, N_OUT)
    raise ValueError(f"model must be 'rnn', 'gru' or 'lif', got {kind!r}")


def make_data(kind, T, batch, seed=0):
    """Inputs ``(T, batch, N_IN)`` (Bernoulli spikes x 5 for 'lif', Gaussian otherwise), labels ``(batch,)``."""
    rng = np.random.default_rng(seed)
    if kind == 'lif':
        xs = (rng.random((T, batch, N_IN)) < 0.1).astype(np.float32) * 5.0
    else:
        xs = rng.standard_normal((T, batch, N_IN)).astype(np.float32)
    ys = rng.integers(0, N_OUT, batch).astype(np.int32)
    return jnp.asarray(xs), jnp.asarray(ys)


# ---------------------------------------------------------------- methods
def online_rules(package='lab', kind=None):
    """``{name: factory(model)}`` of the online rules (SNN rules only on 'lif' and only if present)."""
    mod = __import__('braintrace_lab' if package == 'lab' else 'braintrace')
    rules = {'d_rtrl': lambda m: mod.D_RTRL(m), 'pp_prop': lambda m: mod.pp_prop(m, decay_or_rank=DECAY)}
    if package == 'lab':   # the option of storing traces in bfloat16
        rules['d_rtrl_bf16'] = lambda m: mod.D_RTRL(m, trace_dtype=jnp.bfloat16)
        from braintrace_lab.algorithms.influence import UORO
        # the RTRL family: UORO against the forward pass; OSTL recurrent, the engine SnAp-1 runs on where
        # the two are equal (one-state layers without a leaky readout fed in the same step; not these models)
        rules['uoro'] = lambda m: UORO(m, seed=0)
        rules['ostlrecurrent'] = lambda m: mod.OSTLRecurrent(m)
    if package == 'lab' and kind == 'lif':
        for name in SNN_RULES:
            if hasattr(mod, name):
                rules[name.lower()] = (lambda cls: lambda m: cls(m))(getattr(mod, name))
    return rules


def available_methods(kind, with_bt=True):
    names = ['forward', 'bptt'] + [r + sfx for r in online_rules('lab', kind)
                                   for sfx in ('', '@batched', '@same_weights')]
    if with_bt:
        try:
            import braintrace  # noqa: F401
            names += ['bt:' + r + sfx for r in online_rules('bt') for sfx in ('', '@batched')]
        except ImportError:
            pass
    return names


def _loss(out, ys):
    return braintools.metric.softmax_cross_entropy_with_integer_labels(u.get_mantissa(out), ys).mean()


def immediate_only_paths(kind, hidden):
    """Paths of the weights braintrace_lab learns by their one-step gradient only (the GRU's
    reset gate: it reaches the state only through another weight). braintrace leaves
    these out of training with a warning; ``@same_weights`` freezes them here too."""
    import braintrace_lab as bl
    model = build_model(kind, hidden, 'lab')
    brainstate.nn.init_all_states(model)
    learner = bl.D_RTRL(model)
    learner.compile_graph(jnp.zeros((N_IN,), jnp.float32))
    return {p.path for p in learner.graph.params if p.status == 'immediate_only'}


def make_step(model, method, batch, kind=None, package='lab', info=None):
    """A jitted ``step(xs, ys)``: ``forward`` returns the per-step losses, the others the summed grads.

    ``info`` (a dict) receives ``trace_mb`` for learners that report their trace size.
    A suffix ``@same_weights`` differentiates only the weights braintrace trains.
    """
    weights = model.states(brainstate.ParamState)
    if method.endswith('@same_weights'):
        method = method[:-len('@same_weights')]
        frozen = immediate_only_paths(kind, model.hidden)
        weights = brainstate.util.FlattedDict({k: v for k, v in weights.items()
                                               if '.'.join(map(str, k)) not in frozen})
        if info is not None:
            info['frozen'] = sorted(frozen)

    def fresh(x0, learner=None):
        @brainstate.transform.vmap_new_states(state_tag='new', axis_size=batch)
        def init():
            brainstate.nn.init_all_states(model)
            if learner is not None:
                learner.compile_graph(x0)
                if info is not None and hasattr(learner, 'trace_memory'):
                    info['trace_mb'] = batch * sum(learner.trace_memory().values()) / 2 ** 20
        init()

    if method in ('forward', 'bptt'):
        def run(xs, ys):
            fresh(xs[0, 0])
            net = brainstate.nn.Vmap(model, vmap_states='new')

            def body(total, x):
                loss = _loss(net(x), ys)
                return total + loss, loss
            return brainstate.transform.scan(body, jnp.zeros(()), xs)

        if method == 'forward':
            return brainstate.transform.jit(lambda xs, ys: run(xs, ys)[1])
        return brainstate.transform.jit(
            lambda xs, ys: brainstate.transform.grad(lambda: run(xs, ys)[0], weights)())

    if method.endswith('@batched'):
        return _make_batched_step(model, method[:-len('@batched')], batch, kind, package, weights, info)
    if '@chunk' in method:                 # e.g. pp_prop@chunk20: batched model, etrace_grad(chunk=20)
        rule, k = method.split('@chunk')
        return _make_batched_step(model, rule, batch, kind, package, weights, info, chunk=int(k))
    factory = online_rules(package, kind)[method]

    def train_step(xs, ys):
        learner = factory(model)
        fresh(xs[0, 0], learner)
        net = brainstate.nn.Vmap(learner, vmap_states='new')
        return _summed_step_grads(net, weights, xs, ys)

    return brainstate.transform.jit(train_step)


def _summed_step_grads(net, weights, xs, ys):
    """The online rules' step: ``grad`` of each step's loss inside a scan over time, summed."""
    def body(acc, x):
        g = brainstate.transform.grad(lambda: _loss(net(x), ys), weights)()
        return jax.tree.map(jnp.add, acc, g), None
    zero = jax.tree.map(jnp.zeros_like, weights.to_dict_values())
    return brainstate.transform.scan(body, zero, xs)[0]


def _make_batched_step(model, method, batch, kind, package, weights, info=None, chunk=None):
    """The same step on a batched model: states ``(batch, ...)``, the learner compiled on a
    batched input (the batch is a leading position axis to the engine), no ``Vmap``.
    With ``chunk`` the engine's own driver runs the sequence, ``etrace_grad(chunk=chunk)``
    (the same summed gradient; the factor products are added once per ``chunk`` steps)."""
    factory = online_rules(package, kind)[method]

    def train_step(xs, ys):
        learner = factory(model)
        brainstate.nn.init_all_states(model, batch_size=batch)
        learner.compile_graph(xs[0])
        if info is not None and hasattr(learner, 'trace_memory'):
            info['trace_mb'] = sum(learner.trace_memory().values()) / 2 ** 20
        if chunk is not None:
            grads, _ = learner.etrace_grad(xs, None, lambda out, t: _loss(out, ys), params=weights, chunk=chunk)
            return grads
        return _summed_step_grads(learner, weights, xs, ys)

    return brainstate.transform.jit(train_step)


# ---------------------------------------------------------------- memory probes
def _reset_rss_peak():
    """Reset the kernel's peak-RSS mark (Linux >= 4.0); False where not possible."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def _rss_mb(field):
    """``VmRSS`` (now) or ``VmHWM`` (peak since the last reset) in MiB."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # peak only; best effort


def _device_bytes():
    stats = jax.devices()[0].memory_stats() or {}
    return stats.get('bytes_in_use', 0), stats.get('peak_bytes_in_use', 0)


def _block(x):
    return jax.block_until_ready(jax.tree.map(u.get_mantissa, x, is_leaf=u.math.is_quantity))


def _finite(x):
    return all(bool(np.all(np.isfinite(np.asarray(a)))) for a in jax.tree.leaves(_block(x)))


# ---------------------------------------------------------------- one row
def step_flops(kind, hidden, batch, method, package='lab'):
    """XLA's floating-point operation count of one time step of ``method``, or None.

    The step is compiled for a sequence of length 1: XLA's cost analysis counts a
    loop body once whatever its trip count, so a ``T = 1`` program is one step of
    arithmetic (plus the state initialisation, which is elementwise and small).
    """
    with brainstate.environ.context(dt=1. * u.ms):
        xs, ys = make_data(kind, 1, batch)
        step = make_step(build_model(kind, hidden, package), method, batch, kind, package)
        cost = step.lower(xs, ys).compile().cost_analysis()
    if isinstance(cost, (list, tuple)):       # older jax: one dict per computation
        cost = cost[0] if cost else None
    flops = (cost or {}).get('flops')
    return None if flops is None or flops <= 0 else float(flops)


def run_row(row, methods, min_calls=3, min_time=2.0, max_calls=30, slow_s=20.0, emit=None, flops=False):
    """Compile and time ``methods`` on one ``row = dict(model, hidden, batch, T)`` in this process.

    Each method is first compiled ahead of time: ``compile_s`` is tracing, lowering
    and XLA compilation, measured on its own so that it is not lost in the run-time
    noise of slow steps (the first call then reuses the executable;
    ``first_minus_best_s`` = compile + first call - best call is the same quantity
    measured the classic way). ``xla_temp_mb`` is XLA's scratch memory for one
    step (its working memory besides inputs, outputs and weights). Then the methods
    are timed *interleaved*, one call per method per round, so that all of them see
    the same machine load, each until it has ``min_calls`` calls and ``min_time``
    seconds of them (at most ``max_calls``; a method whose first call took more than
    ``slow_s`` gets one); ``best_ms`` is the fastest and ``median_ms`` the median
    call. On CPU ``step_mb`` is the largest growth of host RSS during one call and
    ``peak_rss_mb`` the process's peak RSS during the calls (everything resident
    included); on an accelerator ``step_mb`` is the growth of the device's peak
    bytes in use and ``peak_device_mb`` that peak (process-wide: isolate methods
    for clean figures). With ``flops`` each method also gets ``mflop_per_step``,
    XLA's count of one step's arithmetic (``step_flops``). ``emit(name, result)`` is
    called as results come in.
    """
    kind, hidden, batch, T = row['model'], row['hidden'], row['batch'], row['T']
    on_cpu = jax.default_backend() == 'cpu'
    results, steps = {}, {}
    with brainstate.environ.context(dt=1. * u.ms):
        xs, ys = make_data(kind, T, batch)
        for name in methods:
            package, method = ('bt', name[3:]) if name.startswith('bt:') else ('lab', name)
            info = {}
            try:
                model = build_model(kind, hidden, package)
                step = make_step(model, method, batch, kind, package, info)
                t0 = time.perf_counter()
                compiled = step.lower(xs, ys).compile()
                compile_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                out = _block(step(xs, ys))
                first = time.perf_counter() - t0
            except Exception as err:  # record, keep the row going
                results[name] = dict(error=f'{type(err).__name__}: {str(err)[:300]}')
                if emit:
                    emit(name, results[name])
                continue
            res = dict(compile_s=compile_s, first_call_s=first, finite=_finite(out), times=[], step_mb=0.0,
                       peak_rss_mb=0.0, **info)
            try:
                res['xla_temp_mb'] = compiled.memory_analysis().temp_size_in_bytes / 2 ** 20
            except Exception:  # not every backend reports it
                pass
            if flops:
                try:
                    count = step_flops(kind, hidden, batch, method, package)
                except Exception as err:  # the timing still counts without it
                    res['mflop_error'] = f'{type(err).__name__}: {str(err)[:200]}'
                else:
                    if count is not None:
                        res['mflop_per_step'] = count / 1e6
            results[name], steps[name] = res, step
            if emit:
                emit(name, dict(res, partial=True))

        def wants_more(res):
            n = len(res['times'])
            if res['first_call_s'] > slow_s:
                return n < 1
            return n < max_calls and (n < min_calls or sum(res['times']) < min_time)

        while True:
            todo = [n for n in steps if wants_more(results[n])]
            if not todo:
                break
            for name in todo:
                res = results[name]
                if on_cpu:
                    _reset_rss_peak()
                    before = _rss_mb('VmRSS')
                else:
                    before = _device_bytes()[1]
                t0 = time.perf_counter()
                _block(steps[name](xs, ys))
                res['times'].append(time.perf_counter() - t0)
                if on_cpu:
                    peak = _rss_mb('VmHWM')
                    res['step_mb'] = max(res['step_mb'], peak - before)
                    res['peak_rss_mb'] = max(res['peak_rss_mb'], peak)
                else:
                    peak = _device_bytes()[1]
                    res['peak_device_mb'] = peak / 2 ** 20
                    res['step_mb'] = max(res['step_mb'], (peak - before) / 2 ** 20)
    for name, step in steps.items():
        res = results[name]
        ts = res.pop('times')
        res.update(best_ms=1e3 * min(ts), median_ms=1e3 * float(np.median(ts)), n_calls=len(ts),
                   first_minus_best_s=res['compile_s'] + res['first_call_s'] - min(ts))
        if emit:
            emit(name, res)
    return results


# ---------------------------------------------------------------- environment
def copy_bandwidth_gbs(n_bytes=None, repeats=10):
    """Measured device copy bandwidth in GB/s, counting bytes read *and* written.

    One jitted ``x + 1`` over a float32 array (1 GiB on an accelerator, 64 MiB
    on a CPU) reads and writes every byte once; the fastest of ``repeats`` calls counts.
    The input buffer is donated, so the output reuses it as a training step's carried
    trace does: without that a CPU measures fresh pages being mapped (4-5 GB/s against
    about 40 on the benchmark machine).
    """
    if n_bytes is None:
        n_bytes = (64 if jax.default_backend() == 'cpu' else 1024) * 2 ** 20
    x = jnp.ones((n_bytes // 4,), jnp.float32)
    f = jax.jit(lambda a: a + 1.0, donate_argnums=0)
    x = f(x).block_until_ready()
    best = float('inf')
    for _ in range(repeats):
        t0 = time.perf_counter()
        x = f(x).block_until_ready()
        best = min(best, time.perf_counter() - t0)
    return 2 * n_bytes / best / 1e9


def _git(*args):
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        return subprocess.run(['git', *args], cwd=here, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except Exception:
        return ''


def environment():
    """Versions, device and machine load, for the record."""
    import importlib.metadata as md
    vers = {}
    for pkg in ('jax', 'jaxlib', 'brainstate', 'braintools', 'brainpy', 'brainunit', 'braintrace',
                'braintrace-lab'):
        try:
            vers[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            vers[pkg] = None
    dev = jax.devices()[0]
    dirty = bool(_git('status', '--porcelain', '--', '../braintrace_lab'))
    import braintrace_lab
    src = pathlib.Path(braintrace_lab.__file__).resolve().parent      # the copy actually imported
    digest = hashlib.sha1()
    for f in sorted(src.rglob('*.py')):
        digest.update(str(f.relative_to(src)).encode() + f.read_bytes())
    return dict(device=f'{dev.platform} ({getattr(dev, "device_kind", "?")})', backend=jax.default_backend(),
                cpu_count=os.cpu_count(), python=platform.python_version(), machine=platform.machine(),
                commit=_git('rev-parse', '--short', 'HEAD') + ('+dirty engine' if dirty else ''),
                engine_sha=digest.hexdigest()[:10],
                loadavg=os.getloadavg(), versions=vers)
