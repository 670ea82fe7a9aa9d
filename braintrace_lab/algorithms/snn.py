"""The SNN online-learning family as thin shells over rule values: e-prop, OSTL, OTPE, OTTT, OSTTP.

Each class checks its options (braintrace's spellings included) and runs the preset of
:mod:`.rules` they name; OSTTP keeps the target it projects.

Notation per relation (op ``y = f(x, W)`` feeding hidden group ``h`` of ``S``
states per position): ``xf`` the op input, ``D`` the group transition (mixing
through ops left out), ``Df = dh/dy``, ``g = dL^t/dh^t`` the one-step learning
signal. Every rule sums its per-step gradients over time.

=================  ==========================================================  ==============
rule               trace and gradient                                          memory
=================  ==========================================================  ==============
EProp              ``e = D e + Df (x) x``; ``e_bar = k e_bar + e``; ``g . e_bar``  ``O(B|theta|)``
OSTLRecurrent      as D-RTRL with ``D`` + the self term through ops (``W_jj``)   ``O(B|theta|)``
OSTLFeedforward    ``ex = a ex + x``, ``ef = a D ef + Df`` (``a=0``: none)       ``O(B(I+O))``
OTPE 'full'        ``R = lam R + x (x) Df``; ``g . R``                          ``O(B I O)``
OTPE 'approx'      ``z = lam z + x``, ``q = lam q + Df``; ``z (x) (g . q)``        ``O(B(I+O))``
OTTT 'A' / 'O'     ``a = lam a + x`` / ``a = x``; ``a (x) (g . Df)``            ``O(B I)``
OSTTP              D-RTRL trace; ``L = y* P`` (fixed random projection)         ``O(B|theta|)``
=================  ==========================================================  ==============

Default decays (``decay=None``): the leak of the neuron that owns the group,
``exp(-dt/tau)`` (a ``tau`` attribute, exponential-Euler LIF/ALIF, leaky readouts)
or a float ``lam`` attribute; where the model has none (a GRU), ``0.5``, OTTT's
``lambda = 1 - 1/tau`` with ``tau = 2``. They are listed in ``learner.decays``.

>>> learner = braintrace_lab.compile(model, 'ottt', x0, mode='A')
>>> learner.decays                      # {'linear.weight@op0->g0': 0.951...}
"""
from __future__ import annotations

import brainstate
import jax
import jax.numpy as jnp
import numpy as np

from ..errors import CompilationError
from .engines import trace_nbytes
from .feedback import FixedRandomFeedback
from .influence_traces import check_seed
from .options import check_flag
from .presets import OnlineLearner
from .rules import eprop, osttp, ostl_feedforward, ostl_recurrent, otpe, ottt
from .snn_traces import FALLBACK_DECAY, check_unit_interval, leak_decays

__all__ = ['EProp', 'OSTLRecurrent', 'OSTLFeedforward', 'OTPE', 'OTTT', 'OSTTP', 'TargetOnlineLearner',
           'FALLBACK_DECAY']


class _DecayMixin:
    """``decays``: per relation, the given float, else the owning neuron's leak, else :data:`FALLBACK_DECAY`."""

    def validate_graph(self, record, plan, **options):
        super().validate_graph(record, plan, **options)
        self.decays = leak_decays(self.model, plan, self.decay)


def _seed_from_key(key, who):
    """An int seed from a ``jax.random`` key (new-style or raw ``uint32`` pair)."""
    try:
        data = jax.random.key_data(key) if jnp.issubdtype(jnp.asarray(key).dtype, jax.dtypes.prng_key) else key
        words = np.asarray(data, dtype=np.uint32).reshape(-1)
    except (TypeError, ValueError) as err:
        raise TypeError(f'{who}: random_feedback_key must be a jax.random key, got {key!r}.') from err
    value = 0
    for w in words:
        value = (value << 32) | int(w)
    return int(value % (2 ** 31 - 1))


def _decay_from_decay_or_rank(value):
    """braintrace's reading of OSTLFeedforward's ``decay_or_rank``: a float decay, or a rank ``r``
    standing for the decay ``(r - 1) / (r + 1)``."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < 1:
            raise ValueError(f'OSTLFeedforward: an integer decay_or_rank (a rank) must be >= 1, got {value}.')
        return (int(value) - 1) / (int(value) + 1)
    return float(value)


def _check_decay(decay, who):
    return None if decay is None else check_unit_interval('decay', decay, who)


class EProp(OnlineLearner):
    """e-prop: D-RTRL trace with recurrent mixing left out of ``D``, optional kappa filter, random feedback.

    ``e^t = D^t e^{t-1} + Df^t (x) x^t``; ``e_bar^t = kappa e_bar^{t-1} + e^t``
    (``kappa = 0``: ``e_bar = e``); gradient ``sum_t L^t . e_bar^t``. Symmetric
    feedback: ``L = dL/dh`` by backprop through the readout; ``feedback='random'``:
    the readout's transpose is replaced by a frozen ``B`` (see
    :class:`FixedRandomFeedback`), ``L = (dx/dh) . (dL/dy B^T)``.

    braintrace's keywords name the same two options: ``kappa_filter_decay=`` is ``kappa``,
    ``random_feedback_key=`` (a ``jax.random`` key) seeds ``B`` as ``feedback_seed`` does
    (the draw differs from braintrace's: same distribution, other numbers).

    >>> learner = EProp(model, feedback='random', kappa=0.9, feedback_seed=3)
    >>> learner = EProp(model, kappa_filter_decay=0.9)          # braintrace's spelling
    """
    display_name = 'e-prop'

    def __init__(self, model, feedback='symmetric', kappa: float = 0.0, feedback_seed: int = 0, name=None,
                 vjp_method='single-step', trace_dtype=None, *, kappa_filter_decay=None,
                 random_feedback_key=None):
        who = type(self).__name__
        if kappa_filter_decay is not None:
            if kappa != 0.0:
                raise TypeError(f'{who}: give the filter decay once, as kappa or as kappa_filter_decay.')
            kappa = kappa_filter_decay
        if random_feedback_key is not None:
            feedback_seed = _seed_from_key(random_feedback_key, who)
        if not isinstance(feedback, (str, FixedRandomFeedback)):
            feedback = FixedRandomFeedback(feedback)
        self.kappa = check_unit_interval('kappa', kappa, who)
        feedback_seed = check_seed(feedback_seed, who, 'feedback_seed')
        rule = self._rule(feedback, self.kappa, feedback_seed)
        super().__init__(model, rule, name=name, vjp_method=vjp_method, trace_dtype=trace_dtype)
        self.feedback = feedback
        self.feedback_seed = int(feedback_seed)

    @staticmethod
    def _rule(feedback, kappa, feedback_seed):
        """The rule value of these options (RFLO builds its own)."""
        return eprop(feedback, kappa, feedback_seed)

    @property
    def feedback_matrices(self):
        """``{readout op index: B}`` (empty for symmetric feedback)."""
        state = getattr(self.rule_binding, 'signal_state', None) or {}
        return {k: fb.matrix for k, fb in state.items()}


class OSTLRecurrent(OnlineLearner):
    """OSTL for recurrent layers: D-RTRL with the coupled per-position transition.

    ``D`` is the per-position block of the full Jacobian: the cut transition plus
    ``Df (x) dy_j/dh_j`` for every op (the recurrent self term ``W_jj``); exact when
    a weight's only recurrence is self-connections. ``eps = D eps + Df (x) x``.

    >>> learner = OSTLRecurrent(model)
    """
    display_name = 'OSTL (recurrent)'

    def __init__(self, model, name=None, vjp_method='single-step', trace_dtype=None):
        super().__init__(model, ostl_recurrent(), name=name, vjp_method=vjp_method, trace_dtype=trace_dtype)


class OSTLFeedforward(OnlineLearner):
    """OSTL for feed-forward layers: factorised trace, no temporal recursion through other units.

    ``ex = a ex + x``; ``ef = a D ef + Df``; gradient ``ex (x) (g . ef)`` (exact one
    step after a reset). ``normalized=True``: ``ef = a D ef + (1 - a) Df``, the
    gradient scaled by ``1 - a``. Default ``decay a = 0``: the spatial (one-step)
    term ``x (x) (g . Df)`` only, the same in both forms. ``normalized=True,
    bias_correction=True`` (``ef / (1 - a^n)`` after ``n`` steps) is braintrace's form.

    >>> learner = OSTLFeedforward(model)            # or decay=0.9 for smoothed factors
    """
    display_name = 'OSTL (feed-forward)'

    def __init__(self, model, decay: float = 0.0, name=None, vjp_method='single-step', trace_dtype=None,
                 normalized: bool = False, *, decay_or_rank=None, bias_correction: bool = False):
        if decay_or_rank is not None:       # braintrace's name: a decay, or a rank r meaning (r - 1) / (r + 1)
            if decay != 0.0:
                raise TypeError('OSTLFeedforward: give the decay once, as decay or as decay_or_rank.')
            decay = _decay_from_decay_or_rank(decay_or_rank)
        self.decay = check_unit_interval('decay', decay, type(self).__name__)
        self.normalized = check_flag('normalized', normalized, type(self).__name__)
        self.bias_correction = check_flag('bias_correction', bias_correction, type(self).__name__)
        super().__init__(model, ostl_feedforward(self.decay, self.normalized, self.bias_correction), name=name,
                         vjp_method=vjp_method, trace_dtype=trace_dtype)


class OTPE(_DecayMixin, OnlineLearner):
    """OTPE: online training with postsynaptic estimates.

    ``'full'``: ``R = lam R + x (x) Df``, gradient ``g . R`` (a per-weight trace with
    a scalar leak). ``'approx'`` (F-OTPE): ``z = lam z + x``, ``q = lam q + Df``,
    gradient ``z (x) (g . q)``. ``decay=None`` takes the neuron's leak (module doc).

    >>> learner = OTPE(model, mode='approx', decay=0.9)
    """
    display_name = 'OTPE'

    def __init__(self, model, mode: str = 'full', decay=None, name=None, vjp_method='single-step',
                 trace_dtype=None):
        self.mode = mode
        self.decay = _check_decay(decay, type(self).__name__)
        super().__init__(model, otpe(mode, self.decay), name=name, vjp_method=vjp_method, trace_dtype=trace_dtype)


class OTTT(_DecayMixin, OnlineLearner):
    """OTTT: online training through time with a presynaptic trace.

    ``'A'``: ``a = lam a + x``; ``'O'``: ``a = x``; gradient ``sum_t a^t (x) (g^t . Df^t)``.
    Only ``a`` is carried (``O(B I)``); this step's ``Df`` is dropped after the step.
    One state per position only: an ALIF-like group raises :class:`CompilationError`.

    >>> learner = OTTT(model, mode='A')             # lam = the neuron's leak
    """
    display_name = 'OTTT'

    def __init__(self, model, mode: str = 'A', decay=None, name=None, vjp_method='single-step',
                 trace_dtype=None):
        self.mode = mode
        self.decay = _check_decay(decay, type(self).__name__)
        super().__init__(model, ottt(mode, self.decay), name=name, vjp_method=vjp_method, trace_dtype=trace_dtype)


class OSTTP(OnlineLearner):
    """OSTTP: D-RTRL traces driven by a fixed random projection of the target.

    For every hidden group that is not itself an output: ``L = y* P`` with a frozen
    random ``P (K, N)`` per state (:class:`TargetProjection`), no backprop across
    layers; output groups (a leaky readout) and readouts keep the exact signal.
    Gradient ``sum_t L^t . eps^t``, ``eps = D eps + Df (x) x``. Call
    :meth:`set_target` before each step (or pass the targets to ``etrace_grad``).
    ``L`` stands in for ``dL/dh`` of the neuron state itself: the slope of what
    the neuron emits (a spike's surrogate derivative) is not multiplied in.
    ``target_shape`` defaults to the shape of the model's output (one-hot targets
    as wide as the readout).

    >>> learner = OSTTP(model); learner.compile_graph(x0)     # or target_shape=(10,)
    >>> learner.set_target(y); out = learner(x)             # y: this step's target
    """
    display_name = 'OSTTP'
    runner_needs = 'the target at every step (set_target)'

    def __init__(self, model, target_shape=None, projection_seed: int = 0, name=None,
                 vjp_method='single-step', trace_dtype=None):
        projection_seed = check_seed(projection_seed, type(self).__name__, 'projection_seed')
        super().__init__(model, osttp(target_shape, projection_seed), name=name, vjp_method=vjp_method,
                         trace_dtype=trace_dtype)
        self._init_target_state()

    def _init_target_state(self):
        self.target_shape = self.rule.signal.target_shape
        self._given_target_shape = self.target_shape     # None: the model output's shape, set at compile
        self.projection_seed = self.rule.signal.seed
        self._target_set = False
        self._paired = False

    def validate_graph(self, record, plan, **options):
        self.target_shape = self._given_target_shape
        if not self.target_shape:     # default: y* shaped like the output (one-hot, the readout's width)
            shapes = [tuple(a.shape) for a in plan.program.output_avals]
            if len(shapes) != 1 or not shapes[0]:
                raise CompilationError(
                    f'OSTTP projects the target y* onto each hidden layer and takes its shape from the model '
                    f'output, but the step returns {len(shapes)} output array(s) of shape(s) {shapes} (it '
                    f'needs exactly one, with a last axis of width n_out). Build it with '
                    f"target_shape=(n_out,), e.g. compile(model, 'osttp', x0, target_shape=(10,)).")
            self.target_shape = shapes[0]
        super().validate_graph(record, plan, target_shape=self.target_shape, **options)
        state = self.rule_binding.signal_state          # what the projected target fixed for this graph
        self.projection, self._projected, self._out_groups = state.projection, list(state.projected), state.out_groups
        self._target_dtype = state.target_dtype

    def compile_graph(self, *inputs, **kwargs):
        graph = super().compile_graph(*inputs, **kwargs)
        self.target = brainstate.ShortTermState(jnp.zeros(self.target_shape, self._target_dtype))
        self._target_set = False
        return graph

    def _restart(self):
        super()._restart()
        if hasattr(self, 'target'):
            self.target.value = jnp.zeros_like(self.target.value)
            self._target_set = False

    def set_target(self, target):
        """Store ``y*`` for the next steps (shape ``target_shape``, or batched as the learner's state)."""
        self._require()
        y = jnp.asarray(getattr(target, 'mantissa', target))
        want = tuple(np.shape(self.target.value))
        if tuple(y.shape) != want:
            raise ValueError(f'OSTTP.set_target: target has shape {tuple(y.shape)}, expected {want} '
                             f'(target_shape={self.target_shape}).')
        self.target.value = y.astype(self._target_dtype)
        self._target_set = True

    def update(self, *inputs, **kwargs):
        if self._paired:
            (x, y), = inputs
            self.set_target(y if self.vjp_method == 'single-step' else y[0])
            inputs = (x,)
        if not self._target_set:
            raise RuntimeError('OSTTP: the target was never set, so the learning signal y* P would be zero. '
                               'Call learner.set_target(y_star) before stepping (or pass targets to '
                               'learner.etrace_grad).')
        tr = dict(self.etrace.value)
        for key, t in tr.items():
            if isinstance(t, dict) and 'target' in t:
                tr[key] = {'trace': t['trace'], 'target': self.target.value}
        self.etrace.value = tr
        return super().update(*inputs, **kwargs)

    def etrace_grad(self, xs, ys=None, loss_fn=None, params=None, window=None, targets=None, chunk=None):
        """As :func:`etrace_grad`; the projected target at step ``t`` is ``targets[t]`` (default ``ys[t]``)."""
        from .driver import etrace_grad
        tg = ys if targets is None else targets
        if tg is None:
            raise ValueError('OSTTP.etrace_grad needs the targets y* (T, *target_shape): pass ys or targets=.')
        self._paired = True
        try:
            return etrace_grad(self, (xs, tg), ys, loss_fn, params=params, window=window, chunk=chunk)
        finally:
            self._paired = False

    def eligibility_traces(self):
        """Current traces keyed by relation (the stored target copies left out)."""
        self._require()
        return {k: t['trace'] if isinstance(t, dict) and 'target' in t else t
                for k, t in self.etrace.value.items()}

    def trace_memory(self):
        """Bytes of eligibility trace per parameter (the stored target copy is not a trace)."""
        plan = self._require()
        traces = self.eligibility_traces()
        out = {}
        for rel in plan.relations:
            out[rel.param] = out.get(rel.param, 0) + trace_nbytes(traces[rel.key])
        return out

    def learning_signals(self, by: str = 'param'):
        """The signal each group uses: ``y* P`` where projected, else the recorded ``dL/dh``."""
        plan = self._require()
        sig = list(self.last_signal.value)
        for i in self._projected:
            sig[i] = self.projection.signal(i, self.target.value, sig[i])
        if by == 'hidden':
            return {plan.leaves[n].path: s for n, s in zip(plan.hidden_ids, sig)}
        if by != 'param':
            raise ValueError(f"learning_signals(by={by!r}): choose 'param' or 'hidden'.")
        return {rel.param: jnp.stack([sig[i] for i in plan.groups[rel.group]], -1) for rel in plan.relations}


class TargetOnlineLearner(OSTTP):
    """The generic shell for a rule whose signal needs the target (a ``ProjectedTarget``): OSTTP's
    ``set_target`` and target-pairing drivers around any trace. ``OnlineLearner(model, rule)`` returns one.

    >>> from braintrace_lab.rules import FactorTrace, ProjectedTarget, Rule
    >>> rule = Rule('projected F-OTPE', FactorTrace('leak', uses_D=False), ProjectedTarget())
    >>> learner = OnlineLearner(model, rule)
    >>> type(learner).__name__
    'TargetOnlineLearner'
    """
    generic = True
    display_name = OnlineLearner.__dict__['display_name']     # the rule's own name

    def __init__(self, model, rule, name=None, vjp_method='single-step', trace_dtype=None):
        OnlineLearner.__init__(self, model, rule, name=name, vjp_method=vjp_method, trace_dtype=trace_dtype)
        if not getattr(rule.signal, 'needs_target', False):
            raise TypeError(f'TargetOnlineLearner runs rules whose signal needs the target (ProjectedTarget); '
                            f'{rule.name!r} has {rule.signal!r}: use OnlineLearner(model, rule).')
        self._init_target_state()
