"""Step modes are arguments: no thread-local or global flag changes engine math, drivers use public API.

The modes of the online step (batch totals under ``vmap``, products deferred to a chunking
driver, a batch split over devices) are values fixed when a step is built
(``StepMode`` / ``EngineMode``), asked for through the learner's own ``stepping`` context;
every sequence loop runs through one time driver, ``scan_time``.
"""
import ast
import pathlib

import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab as bl
from braintrace_lab.algorithms import engines
from braintrace_lab.algorithms.engines import EngineMode, IODimEngine, ParamDimEngine, position_sum, with_mode
from braintrace_lab.algorithms.snn_traces import KappaTraceFilter, ProjectedSignal
from braintrace_lab.algorithms.time_driver import scan_time
from braintrace_lab.lab.learners import BPTT, sequence_grads
from braintrace_lab.models import get_fixture, mse_loss

from engine_testutils import worst_error

PACKAGE = pathlib.Path(bl.__file__).parent
LEARNER_PRIVATE = {'_deferred', '_T', '_step_variants', '_step_request', '_step_fn', '_plan', '_forward_parts'}


def _loops(jaxpr) -> int:
    """Loops in a jaxpr (a ``fori_loop`` with static bounds is a ``scan``)."""
    text = str(jaxpr)
    return text.count('while[') + text.count('scan[')


def _modules(*parts):
    for folder in parts:
        yield from sorted((PACKAGE / folder).rglob('*.py')) if folder else sorted(PACKAGE.rglob('*.py'))


def _private_writes(path):
    """``(line, text)`` of every assignment to a learner's private attribute outside its own methods."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        else:
            continue
        for target in targets:
            for sub in ast.walk(target):
                if not isinstance(sub, ast.Attribute) or not sub.attr.startswith('_') or sub.attr.startswith('__'):
                    continue
                owner = sub.value.id if isinstance(sub.value, ast.Name) else ''
                learnerish = 'learner' in owner or owner in ('lrn', 'algo')
                if owner not in ('self', 'cls') and (learnerish or sub.attr in LEARNER_PRIVATE):
                    found.append((node.lineno, ast.unparse(sub)))
    return found


def test_no_thread_local_or_global_mode_flags():
    offenders = []
    for path in _modules(''):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                if any(n and n.split('.')[0] in ('threading', 'contextvars') for n in names):
                    offenders.append(f'{path.relative_to(PACKAGE)}:{node.lineno} imports threading/contextvars')
            if isinstance(node, ast.Global):
                offenders.append(f'{path.relative_to(PACKAGE)}:{node.lineno} global {", ".join(node.names)}')
    assert not offenders, offenders


def test_drivers_write_no_private_learner_fields():
    offenders = [f'{p.relative_to(PACKAGE)}:{line} {text}' for p in _modules('algorithms', 'lab')
                 for line, text in _private_writes(p)]
    assert not offenders, offenders


def test_the_private_write_check_sees_a_violation(tmp_path):
    """Negative control: the AST check flags what the drivers used to do."""
    bad = tmp_path / 'bad.py'
    bad.write_text('def run(learner, model):\n    learner._deferred = frozenset()\n    model._T = 3\n'
                   '    self_like = 1\n')
    assert [t for _, t in _private_writes(bad)] == ['learner._deferred', 'model._T']


# ---------------------------------------------------------------------------- engine modes
def test_position_sum_mode_argument_picks_the_contraction():
    """On CPU the plain mode loops over positions; the partitioned mode is one reduction; both agree."""
    fn = lambda w, g: jnp.sum(w * g[None], axis=-1)
    w, g = jax.random.normal(jax.random.PRNGKey(0), (6, 3, 4, 2)), jax.random.normal(jax.random.PRNGKey(1), (6, 4, 2))
    plain = jax.make_jaxpr(lambda a, b: position_sum(fn, 1, a, b))(w, g)
    split = jax.make_jaxpr(lambda a, b: position_sum(fn, 1, a, b, mode=EngineMode(partitioned=True)))(w, g)
    if engines.on_cpu():
        assert _loops(plain) == 1
    assert _loops(split) == 0
    np.testing.assert_allclose(position_sum(fn, 1, w, g, mode=EngineMode(partitioned=True)),
                               position_sum(fn, 1, w, g), rtol=1e-5, atol=1e-6)


def test_with_mode_reaches_wrapped_engines_and_leaves_the_value():
    mode = EngineMode(summed=True)
    kappa = KappaTraceFilter(inner=ParamDimEngine(0.5), kappa=0.3)
    moded = with_mode(kappa, mode)
    assert moded.mode == mode and moded.inner.mode == mode and moded.inner.decay == 0.5
    assert kappa.inner.mode == EngineMode() and moded == kappa and repr(moded) == repr(kappa)
    projected = ProjectedSignal(IODimEngine(0.5, 0.5), (None,), (3,), jnp.float32)
    assert with_mode(projected, mode).inner.mode == mode and projected.inner.mode == EngineMode()
    plain = IODimEngine(0.5, 0.5)
    assert with_mode(plain, EngineMode()) is plain


# ---------------------------------------------------------------------------- learner step variants
def _learner(name='leaky', algo=bl.D_RTRL, batch_size=4, T=5, **opts):
    fx = get_fixture(name)
    with fx.context():
        xs, ys = fx.data(T=T, seed=3, batch_size=batch_size)
        learner = algo(fx.build(batch_size=batch_size), **opts)
        learner.compile_graph(xs[0])
    return fx, learner, xs, ys


def test_step_variants_are_built_once_and_the_plain_one_is_the_compiled_step():
    _, learner, _, _ = _learner()
    assert learner.step_variant() is learner._step_fn
    split = learner.step_variant(partitioned=True)
    assert split is learner.step_variant(partitioned=True) and split is not learner._step_fn


def test_stepping_context_selects_the_variant_and_restores_it(monkeypatch):
    fx, learner, xs, ys = _learner()
    built = []
    real = type(learner)._build_step

    def spy(self, summed=False, **modes):
        built.append((summed, modes))
        return real(self, summed, **modes)

    monkeypatch.setattr(type(learner), '_build_step', spy)
    with fx.context():
        ref, ref_losses = learner.etrace_grad(xs, ys, mse_loss)
        brainstate.nn.init_all_states(learner, batch_size=4)
        with pytest.raises(RuntimeError):
            with learner.stepping(partitioned=True):
                got, losses = learner.etrace_grad(xs, ys, mse_loss)
                raise RuntimeError('leave the context')
        brainstate.nn.init_all_states(learner, batch_size=4)
        again, _ = learner.etrace_grad(xs, ys, mse_loss)
    assert built == [(False, {'partitioned': True})]          # only the partitioned variant was new
    assert worst_error(got, ref) < 1e-5 and worst_error(again, ref) < 1e-6
    assert jnp.allclose(losses, ref_losses, rtol=1e-6)


def test_partitioned_step_traces_reductions_not_loops():
    """The devices path's mode reaches the engine: the backward pass has no loop over batch positions."""
    _, learner, xs, _ = _learner(batch_size=4)
    plan = learner._plan
    p, h, o = plan.split(plan.read_state_leaves())

    def loops(step):
        def total(pp):
            outs = step(pp, learner.signal_probe.value, h, o, (xs[0],), learner.etrace.value)[0]
            return sum(jnp.sum(a) for a in outs)
        return _loops(jax.make_jaxpr(jax.grad(total))(tuple(p)))

    if engines.on_cpu():
        assert loops(learner.step_variant()) > 0
    assert loops(learner.step_variant(partitioned=True)) == 0


def test_devices_plan_traces_the_learner_partitioned():
    from braintrace_lab.lab.devices import DevicePlan
    fx, learner, xs, ys = _learner(batch_size=2)
    plan = DevicePlan(1, batch_size=2)
    seen = []
    traced = plan.tracing(lambda: seen.append(learner._step_request.partitioned), learner)
    traced()
    assert seen == [True] and learner._step_request.partitioned is False
    assert plan.tracing(len, BPTT(learner.model)) is len        # nothing to partition: as it is


def test_bptt_sequence_length_is_public_and_sizes_its_memory():
    fx = get_fixture('leaky')
    with fx.context():
        xs, ys = fx.data(T=6, seed=1, batch_size=2)
        ref = BPTT(fx.build(batch_size=2))
        ref.compile_graph(xs[0])
        one = sum(ref.trace_memory().values())
        params = ref.model.states(brainstate.ParamState)
        sequence_grads(ref, params, xs, lambda out, t: mse_loss(out, ys[t]))
    assert ref.sequence_length == 6 and sum(ref.trace_memory().values()) == 6 * one


# ---------------------------------------------------------------------------- the time driver
def _python_loop(step, carry, xs):
    outs = []
    for t in range(xs.shape[0]):
        carry, out = step(carry, xs[t], t)
        outs.append(out)
    return carry, jnp.stack(outs)


@pytest.mark.parametrize('T', [1, 6, 7])
def test_scan_time_per_step_chunked_and_windowed_equal_a_python_loop(T):
    xs = jnp.arange(T * 2, dtype=jnp.float32).reshape(T, 2) + 1.0
    step = lambda c, x, t: (c * 0.9 + x.sum() * (t + 1), x.sum() - t)
    ref_c, ref_o = _python_loop(step, jnp.float32(0), xs)
    c, o = scan_time(step, jnp.float32(0), xs)
    np.testing.assert_allclose(c, ref_c, rtol=1e-6)
    np.testing.assert_allclose(o, ref_o, rtol=1e-6)
    blocks = []

    def end_chunk(carry, outs):
        blocks.append(outs.shape[0])
        return carry + outs.sum() * 0, outs
    c, o = scan_time(step, jnp.float32(0), xs, chunk=3, end_chunk=end_chunk)
    np.testing.assert_allclose(c, ref_c, rtol=1e-6)
    np.testing.assert_allclose(o, ref_o, rtol=1e-6)
    assert sorted(set(blocks)) == sorted({3} if T % 3 == 0 else ({3, T % 3} if T > 3 else {T}))

    def window_step(carry, xw, ts):
        for s in range(xw.shape[0]):
            carry = carry * 0.9 + xw[s].sum() * (ts[s] + 1)
        return carry, xw.sum(-1) - ts
    c, o = scan_time(window_step, jnp.float32(0), xs, window=4)
    np.testing.assert_allclose(c, ref_c, rtol=1e-6)
    np.testing.assert_allclose(o, ref_o, rtol=1e-6)
    (c, (o, seen)) = scan_time(step, jnp.float32(0), xs, observe=lambda out: out * 2)
    np.testing.assert_allclose(seen, 2 * ref_o, rtol=1e-6)


def test_scan_time_refuses_chunk_and_window_together():
    with pytest.raises(ValueError, match='not both'):
        scan_time(lambda c, x, t: (c, x), 0.0, jnp.ones((4, 1)), chunk=2, window=2)
