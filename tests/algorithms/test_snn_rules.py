"""The SNN online-learning family (e-prop, OSTL, OTPE, OTTT, OSTTP), step by step.

Each rule is checked against an independent NumPy re-derivation on tiny leaky
models (the trace after every step and the per-step gradient, never a
whole-sequence window), then in its exactness regime against D-RTRL or BPTT, with
negative controls that fail if a rule's knob has no effect, exact trace memory per
rule, and the compile-time errors.
"""
import math

import brainstate
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab as bl
from braintrace_lab import ops
from braintrace_lab.models import get_fixture, mse_loss
from braintrace_lab.oracle import relative_error

from engine_testutils import online_grads, reference, worst_error

T = 6
KEY = 'w@op0->g0'          # the traced relation of the catalog leaky models


def _np(x):
    return np.asarray(getattr(x, 'mantissa', x), dtype=np.float64)


def _flat(grads, key):
    return np.concatenate([np.ravel(_np(x)) for x in jax.tree.leaves(grads[key])])


# ------------------------------------------------------------------ NumPy re-derivation
def numpy_rule(rule, xs, ys, W, b, Wo, lam, linear, kappa=0.0, B=None, P=None):
    """Per step: the rule's trace (engine layout) and its gradients for W, b and the readout."""
    I, O = W.shape
    h = np.zeros(O)
    e, eb = np.zeros((I, O)), np.zeros(O)             # D-RTRL trace (D = lam)
    bar, barb = np.zeros((I, O)), np.zeros(O)         # kappa-filtered
    z, q, one = np.zeros(I), np.zeros(O), 0.0         # factorised / presynaptic
    steps = []
    for t in range(len(xs)):
        x, ystar = xs[t], ys[t]
        a = x @ W + b
        y = a if linear else np.tanh(a)
        Df = np.ones(O) if linear else 1.0 - y ** 2
        h = lam * h + y
        cot = 2.0 * (h @ Wo - ystar)
        g = cot @ Wo.T
        e, eb = lam * e + np.outer(x, Df), lam * eb + Df
        if rule in ('d_rtrl', 'eprop_random', 'osttp'):
            L = {'d_rtrl': g, 'eprop_random': cot @ B.T if B is not None else None,
                 'osttp': ystar @ P if P is not None else None}[rule]
            gW, gb = e * L, eb * L
            trace = {'w': e[..., None], 'b': eb[:, None]}
        elif rule == 'eprop_kappa':
            bar, barb = kappa * bar + e, kappa * barb + eb
            gW, gb = bar * g, barb * g
            trace = {'bar': {'w': bar[..., None], 'b': barb[:, None]}, 'e': {'w': e[..., None]}}
        elif rule == 'ostl_ff':
            gW, gb = np.outer(x, g * Df), g * Df
            trace = {'x': x, 'f': Df[:, None], 'one': 1.0}
        elif rule == 'otpe_approx':
            z, q, one = lam * z + x, lam * q + Df, lam * one + 1.0
            gW, gb = np.outer(z, g * q), one * g * q
            trace = {'x': z, 'f': q[:, None], 'one': one}
        elif rule in ('ottt_A', 'ottt_O'):
            decay = lam if rule == 'ottt_A' else 0.0
            z, one = decay * z + x, decay * one + 1.0
            gW, gb = np.outer(z, g * Df), one * g * Df
            trace = {'x': z, 'one': one}
        else:
            raise ValueError(rule)
        steps.append({'trace': trace, 'W': gW, 'b': gb, 'readout': np.outer(h, cot), 'out': h @ Wo})
    return steps


def _compare_tree(got, want, where):
    for k, v in want.items():
        if isinstance(v, dict):
            _compare_tree(got[k], v, where + '.' + k)
        else:
            np.testing.assert_allclose(_np(got[k]), v, rtol=2e-4, atol=2e-5, err_msg=where + '.' + k)


def step_by_step(fx_name, make, rule, T=T, **np_kw):
    fx = get_fixture(fx_name)
    with fx.context():
        xs, ys = fx.data(T=T, seed=11)
        model = fx.build()
        W, b = (_np(model.w.value[k]) for k in ('weight', 'bias'))
        Wo = _np(model.readout.weight.value)
        learner = make(model)
        learner.compile_graph(xs[0])
        if rule == 'eprop_random':
            (B,) = learner.feedback_matrices.values()
            np_kw['B'] = np.asarray(B, np.float64)
        if rule == 'osttp':
            np_kw['P'] = np.asarray(learner.projection.matrices[0], np.float64)
        want = numpy_rule(rule, _np(xs), _np(ys), W, b, Wo, model.lam, fx_name == 'linear_leaky', **np_kw)
        params = model.states(brainstate.ParamState)

        @brainstate.transform.jit
        def step(x, y):
            if rule == 'osttp':
                learner.set_target(y)
            return brainstate.transform.grad(lambda: mse_loss(learner(x), y), params, return_value=True)()

        for t in range(T):
            grads, _ = step(xs[t], ys[t])
            w = want[t]
            _compare_tree(learner.eligibility_traces()[KEY], w['trace'], f'{rule} step {t} trace')
            np.testing.assert_allclose(_np(grads[('w',)]['weight']), w['W'], rtol=2e-4, atol=2e-5,
                                       err_msg=f'{rule} step {t} dW')
            np.testing.assert_allclose(_np(grads[('w',)]['bias']), w['b'], rtol=2e-4, atol=2e-5,
                                       err_msg=f'{rule} step {t} db')
            np.testing.assert_allclose(_np(grads[('readout', 'weight')]), w['readout'], rtol=2e-4, atol=2e-5,
                                       err_msg=f'{rule} step {t} readout')
        assert np.abs(want[-1]['W']).sum() > 0
    return learner


RULES = [
    ('d_rtrl', lambda m: bl.EProp(m), {}),
    ('eprop_kappa', lambda m: bl.EProp(m, kappa=0.6), {'kappa': 0.6}),
    ('eprop_random', lambda m: bl.EProp(m, feedback='random', feedback_seed=4), {}),
    ('d_rtrl', lambda m: bl.OSTLRecurrent(m), {}),
    ('ostl_ff', lambda m: bl.OSTLFeedforward(m), {}),
    ('d_rtrl', lambda m: bl.OTPE(m, mode='full'), {}),          # D = lam here: the full trace is D-RTRL's
    ('otpe_approx', lambda m: bl.OTPE(m, mode='approx'), {}),
    ('ottt_A', lambda m: bl.OTTT(m, mode='A'), {}),
    ('ottt_O', lambda m: bl.OTTT(m, mode='O'), {}),
    ('osttp', lambda m: bl.OSTTP(m, target_shape=(3,), projection_seed=2), {}),
]


CASES = [('leaky', r) for r in RULES] + [('linear_leaky', RULES[i]) for i in (0, 7)]


@pytest.mark.parametrize('fx_name, case', CASES, ids=[f'{f}-{r[0]}-{i}' for i, (f, r) in enumerate(CASES)])
def test_rule_matches_numpy_step_by_step(fx_name, case):
    rule, make, kw = case
    learner = step_by_step(fx_name, make, rule, **kw)
    if isinstance(learner, (bl.OTTT, bl.OTPE)):      # the decay was read from the model (lam = 0.8)
        assert learner.decays == {KEY: pytest.approx(0.8)}


class DiagRecurrent(brainstate.nn.Module):
    """``h = lam h + tanh(x W + h v)``: a recurrent weight with self-connections only (sparse diagonal)."""

    def __init__(self, n_in=3, n=4, n_out=2, lam=0.6, seed=0):
        super().__init__()
        k = jax.random.split(jax.random.PRNGKey(seed), 3)
        self.n, self.lam = n, lam
        self.w = brainstate.ParamState(jax.random.normal(k[0], (n_in, n)) * 0.8)
        self.v = brainstate.ParamState(jax.random.normal(k[1], (n,)) * 0.9)
        self.readout = brainstate.ParamState(jax.random.normal(k[2], (n, n_out)) * 0.7)
        self.idx = jnp.arange(n, dtype=jnp.int32)

    def init_state(self, batch_size=None, **kwargs):
        self.h = brainstate.HiddenState(jnp.zeros((self.n,), jnp.float32))

    def update(self, x):
        rec = ops.sparse_matmul(self.h.value, self.v.value, self.idx, self.idx, self.n)
        self.h.value = self.lam * self.h.value + jnp.tanh(ops.matmul(x, self.w.value) + rec)
        return ops.matmul(self.h.value, self.readout.value)


def _diag_data(T=6):
    k1, k2 = jax.random.split(jax.random.PRNGKey(5))
    return jax.random.normal(k1, (T, 3)), jax.random.normal(k2, (T, 2))


def test_ostl_recurrent_numpy_and_exact_on_self_connections():
    xs, ys = _diag_data()
    model = DiagRecurrent()
    brainstate.nn.init_all_states(model)
    W, v, Wo, lam = _np(model.w.value), _np(model.v.value), _np(model.readout.value), model.lam
    learner = bl.OSTLRecurrent(model)
    learner.compile_graph(xs[0])
    params = model.states(brainstate.ParamState)
    step = brainstate.transform.jit(lambda x, y: brainstate.transform.grad(
        lambda: mse_loss(learner(x), y), params)())
    h, eW, ev = np.zeros(4), np.zeros((3, 4)), np.zeros(4)
    total = None
    for t in range(len(xs)):
        x = _np(xs[t])
        pre = x @ W + h * v
        Df = 1.0 - np.tanh(pre) ** 2
        D = lam + Df * v                          # coupled: the self term W_jj = v_j through the op
        eW, ev = D * eW + np.outer(x, Df), D * ev + h * Df
        h = lam * h + np.tanh(pre)
        g = 2.0 * (h @ Wo - _np(ys[t])) @ Wo.T
        grads = step(xs[t], ys[t])
        total = grads if total is None else jax.tree.map(jnp.add, total, grads)
        tr = learner.eligibility_traces()
        np.testing.assert_allclose(_np(tr['w@op1->g0']['w'])[..., 0], eW, rtol=2e-4, atol=1e-5)
        np.testing.assert_allclose(_np(tr['v@op0->g0']['w'])[..., 0], ev, rtol=2e-4, atol=1e-5)
        np.testing.assert_allclose(_np(grads[('w',)]), eW * g, rtol=2e-4, atol=1e-5)
        np.testing.assert_allclose(_np(grads[('v',)]), ev * g, rtol=2e-4, atol=1e-5)
    # exactness regime: the summed online gradient equals BPTT; D_RTRL (self term left out) does not
    ref, _ = bl.oracle.bptt_grad(_fresh_diag(), xs, lambda out, t: mse_loss(out, ys[t]))
    assert worst_error(total, ref) < 1e-5
    d_rtrl = bl.D_RTRL(_fresh_diag())
    d_rtrl.compile_graph(xs[0])
    got, _ = d_rtrl.etrace_grad(xs, ys, mse_loss)
    assert relative_error(_flat(got, ('v',)), _flat(ref, ('v',))) > 1e-2


def _fresh_diag():
    m = DiagRecurrent()
    brainstate.nn.init_all_states(m)
    return m


# ------------------------------------------------------------------ exactness regimes
@pytest.mark.parametrize('name', ['lif', 'rnn'])
def test_eprop_symmetric_kappa0_equals_d_rtrl(name):
    fx = get_fixture(name)
    with fx.context():
        xs, ys = fx.data(T=8, seed=1)
        d, _, _ = online_grads(fx, bl.D_RTRL, xs, ys)
        e, _, _ = online_grads(fx, bl.EProp, xs, ys)
        assert worst_error(e, d) < 1e-6
        if name == 'rnn':
            return
        k, _, _ = online_grads(fx, bl.EProp, xs, ys, kappa=0.5)      # negative control
        traced = [key for key in d if key[0] != 'readout']
        assert all(relative_error(_flat(k, key), _flat(d, key)) > 1e-2 for key in traced)


def test_ottt_and_otpe_regimes_on_linear_leaky():
    fx = get_fixture('linear_leaky')
    with fx.context():
        xs, ys = fx.data(T=8, seed=2)
        ref, _ = reference(fx, xs, ys)
        d, _, _ = online_grads(fx, bl.D_RTRL, xs, ys)
        assert worst_error(d, ref) < 1e-5
        for cls, kw in ((bl.OTTT, {'mode': 'A'}), (bl.OTPE, {'mode': 'full'})):
            g, _, _ = online_grads(fx, cls, xs, ys, **kw)
            assert worst_error(g, d) < 1e-5, cls.__name__
        approx, _, _ = online_grads(fx, bl.OTPE, xs, ys, mode='approx')
        o_mode, _, _ = online_grads(fx, bl.OTTT, xs, ys, mode='O')
        for other in (approx, o_mode):          # negative controls: F-OTPE and OTTT_O are not exact
            assert relative_error(_flat(other, ('w',)), _flat(d, ('w',))) > 1e-2
        assert relative_error(_flat(o_mode, ('w',)), _flat(approx, ('w',))) > 1e-2


def test_random_feedback_differs_and_is_nonzero():
    fx = get_fixture('lif')
    with fx.context():
        xs, ys = fx.data(T=8, seed=3)
        sym, _, _ = online_grads(fx, bl.EProp, xs, ys)
        rnd, _, learner = online_grads(fx, bl.EProp, xs, ys, feedback='random', feedback_seed=1)
        rnd2, _, _ = online_grads(fx, bl.EProp, xs, ys, feedback='random', feedback_seed=2)
        assert np.abs(_flat(rnd, ('w',))).sum() > 0
        assert relative_error(_flat(rnd, ('w',)), _flat(sym, ('w',))) > 1e-2
        assert relative_error(_flat(rnd, ('w',)), _flat(rnd2, ('w',))) > 1e-2
        # the readout's own gradient is untouched by the feedback matrix
        assert relative_error(_flat(rnd, ('readout', 'weight')), _flat(sym, ('readout', 'weight'))) < 1e-6
        (B,) = learner.feedback_matrices.values()
        assert B.shape == (6, 3)


def test_osttp_signal_is_nonzero_and_follows_the_target():
    fx = get_fixture('lif')
    with fx.context():
        xs, ys = fx.data(T=8, seed=4)
        g1, _, learner = online_grads(fx, bl.OSTTP, xs, ys, target_shape=(3,))
        sig = learner.learning_signals()['w']
        assert float(jnp.abs(sig).sum()) > 0
        np.testing.assert_allclose(_np(sig)[..., 0], _np(ys[-1]) @ learner.projection.matrices[0], rtol=1e-5)
        model = fx.build()
        other = bl.OSTTP(model, target_shape=(3,))
        other.compile_graph(xs[0])
        g2, _ = other.etrace_grad(xs, ys, mse_loss, targets=jnp.roll(ys, 1, axis=-1))
        assert relative_error(_flat(g2, ('w',)), _flat(g1, ('w',))) > 1e-2
        d, _, _ = online_grads(fx, bl.D_RTRL, xs, ys)
        assert relative_error(_flat(g1, ('w',)), _flat(d, ('w',))) > 1e-2
        # the readout keeps the exact error signal
        assert relative_error(_flat(g1, ('readout', 'weight')), _flat(d, ('readout', 'weight'))) < 1e-6


def test_ottt_modes_differ_on_lif():
    fx = get_fixture('lif')
    with fx.context():
        xs, ys = fx.data(T=8, seed=5)
        a, _, la = online_grads(fx, bl.OTTT, xs, ys, mode='A')
        o, _, _ = online_grads(fx, bl.OTTT, xs, ys, mode='O')
        assert relative_error(_flat(a, ('w',)), _flat(o, ('w',))) > 1e-2
        assert la.decays['w@op0->g0'] == pytest.approx(float(np.exp(-1 / 5)))   # exp(-dt/tau), tau = 5 ms


# ------------------------------------------------------------------ memory
def test_trace_memory_matches_the_complexity_column():
    fx = get_fixture('lif')                     # W (I=5, O=6) + bias, S=1, readout not traced
    Bt, I, O, f = 3, 5, 6, 4
    cases = {
        'd_rtrl': (bl.D_RTRL, {}, Bt * (I * O + O)),                      # O(B |theta|)
        'eprop': (bl.EProp, {}, Bt * (I * O + O)),
        'eprop_kappa': (bl.EProp, {'kappa': 0.5}, 2 * Bt * (I * O + O)),  # + the filter
        'osttp': (bl.OSTTP, {'target_shape': (Bt, 3)}, Bt * (I * O + O)),
        'ostl_recurrent': (bl.OSTLRecurrent, {}, Bt * (I * O + O)),
        'otpe_full': (bl.OTPE, {'mode': 'full'}, Bt * I * O + Bt * O),    # O(B I O)
        'otpe_approx': (bl.OTPE, {'mode': 'approx'}, Bt * (I + O + 1)),   # O(B (I + O))
        'ostl_feedforward': (bl.OSTLFeedforward, {}, Bt * (I + O + 1)),
        'ottt': (bl.OTTT, {}, Bt * (I + 1)),                               # O(B I)
    }
    with fx.context():
        xs, ys = fx.data(T=2, seed=6, batch_size=Bt)
        for name, (cls, kw, n) in cases.items():
            learner = cls(fx.build(batch_size=Bt), **kw)
            learner.compile_graph(xs[0])
            if name == 'ottt':                    # after a step: the per-step factor Df is not kept
                brainstate.transform.jit(lambda x: learner(x))(xs[0])
                assert set(learner.eligibility_traces()['w@op0->g0']) == {'x', 'one'}
            assert learner.trace_memory() == {'w': f * n}, name


# ------------------------------------------------------------------ errors and names
def test_ottt_rejects_multi_state_groups():
    fx = get_fixture('alif')
    with fx.context():
        with pytest.raises(bl.CompilationError, match=r'group g0 .*2 states.*D_RTRL or EProp'):
            bl.compile(fx.build(), 'ottt', jnp.ones(5))


def test_osttp_defaults_its_target_shape_and_needs_a_target():
    fx = get_fixture('leaky')
    with fx.context():
        default = bl.compile(fx.build(), 'osttp', jnp.ones(4))       # the readout's width, as one-hot targets
        assert default.target_shape == (3,)
        learner = bl.compile(fx.build(), 'osttp', jnp.ones(4), target_shape=(3,))
        with pytest.raises(RuntimeError, match='set_target'):
            learner(jnp.ones(4))
        with pytest.raises(ValueError, match=r'shape \(4,\)'):
            learner.set_target(jnp.ones(4))
        with pytest.raises(bl.CompilationError, match='cannot be projected'):
            bl.compile(fx.build(), 'osttp', jnp.ones(4), target_shape=(2, 3))


def test_random_feedback_shape_is_checked_at_compile_time():
    fx = get_fixture('leaky')                   # readout (6, 3)
    with fx.context():
        bad = bl.FixedRandomFeedback.random(5, 3)
        with pytest.raises(bl.CompilationError, match=r'shape \(5, 3\).*\(6, 3\)'):
            bl.compile(fx.build(), 'eprop', jnp.ones(4), feedback=bad)
        good = bl.compile(fx.build(), 'eprop', jnp.ones(4), feedback=bl.FixedRandomFeedback.random(6, 3))
        assert good.feedback_matrices[1].shape == (6, 3)
        with pytest.raises(ValueError, match='kappa'):
            bl.EProp(fx.build(), kappa=1.0)
        with pytest.raises(ValueError, match='feedback'):
            bl.EProp(fx.build(), feedback='transpose')


@pytest.mark.parametrize('name, kw', [('eprop', {}), ('e_prop', {'kappa': 0.9}), ('ostl_recurrent', {}),
                                      ('ostl_feedforward', {}), ('otpe', {}), ('ottt', {'mode': 'O'}),
                                      ('osttp', {'target_shape': (3,)})])
def test_compile_by_name(name, kw):
    fx = get_fixture('lif')
    with fx.context():
        learner = bl.compile(fx.build(), name, jnp.ones(5), **kw)
        assert learner.is_compiled and learner.trace_memory()['w'] > 0



@pytest.mark.parametrize('algo', [bl.OTPE, bl.OTTT])
def test_default_decay_is_the_same_when_compiled_under_jit(algo):
    """The neuron's leak exp(-dt/tau) is read in NumPy, so a learner compiled inside ``jit``
    (the seed tutorial compiles inside its jitted step) gets the same decay as an eager one."""
    fx = get_fixture('lif')
    with fx.context():
        x0 = fx.data(T=1, seed=0)[0][0]
        eager = algo(fx.build())
        eager.compile_graph(x0)
        staged = algo(fx.build())
        brainstate.transform.jit(lambda x: staged.compile_graph(x) and None)(x0)
        dt_ms = float(brainstate.environ.get_dt() / u.ms)
        assert staged.decays == eager.decays
        assert any(abs(v - math.exp(-dt_ms / 5.0)) < 1e-6 for v in eager.decays.values())   # tau 5 ms
