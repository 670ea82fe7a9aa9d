"""The generic learner shell, ``OnlineLearner(model, rule)``, and the two core rules' shells: D-RTRL, ES-D-RTRL.

Every online rule of this package is a :class:`~.rule.Rule` value run by
:class:`OnlineLearner`; the seed's classes are thin shells that build the value from their
options (:mod:`.rules`) and keep only what is stateful.
"""
from __future__ import annotations

from .base import ETraceAlgorithm
from .options import REQUIRED, check_decay_or_rank, check_flag, check_options, missing_option
from .rule import Rule, factor_engine
from .rule_driven import from_rule
from .rules import d_rtrl, es_d_rtrl
from .snn_traces import carried_traces

__all__ = ['OnlineLearner', 'RedirectingMeta', 'ParamDimVjpAlgorithm', 'D_RTRL', 'IODimVjpAlgorithm', 'ES_D_RTRL',
           'pp_prop', 'check_decay_or_rank', 'factor_engine', 'check_flag']


class RedirectingMeta(type(ETraceAlgorithm)):
    """Calling a class that defines a ``redirect`` staticmethod in its own body first asks it for the learner to
    build (``OnlineLearner(model, rule)`` hands an influence trace to RTRL's family, a target signal to OSTTP's
    shell); subclasses that do not define one are built as usual."""

    def __call__(cls, *args, **kwargs):
        redirect = vars(cls).get('redirect')
        if redirect is not None:
            check_options(cls, kwargs)          # a misspelt option is named before anything is built
        learner = None if redirect is None else redirect.__func__(*args, **kwargs)
        return learner if learner is not None else super().__call__(*args, **kwargs)


class OnlineLearner(ETraceAlgorithm, metaclass=RedirectingMeta):
    """Any :class:`~.rule.Rule` value as a learner: the trace, signal and transition it names, one step per call.

    A rule whose signal needs the target at each step (a :class:`~.rule.ProjectedTarget`)
    gets OSTTP's shell, with ``set_target``; a rule of the RTRL family (an influence trace of
    :mod:`.influence_traces`, transition ``'full'``) gets its trace's learner (RTRL, SnAp, UORO, ...).
    The seed's classes are subclasses that build their rule from their options.

    >>> from braintrace_lab.rules import Presynaptic, RandomFeedback
    >>> rule = Rule('OTTT + random feedback', Presynaptic('leak'), RandomFeedback(seed=1))
    >>> learner = OnlineLearner(model, rule); graph = learner.compile_graph(x0); y = learner(x0)
    """
    display_name = from_rule(lambda rule: rule.name, 'online rule')
    generic = True        # set in the body of a class that runs any rule (not inherited by the named shells)

    @staticmethod
    def redirect(model=None, rule=None, *rest, **implementation):
        """The learner that runs ``rule`` when this shell is not it (``None``: this shell)."""
        implementation.update(zip(('name', 'vjp_method', 'trace_dtype'), rest))
        if getattr(getattr(rule, 'trace', None), 'whole_network', False):
            # the RTRL family: one influence trace for the whole network, run by that trace's own learner
            return rule.trace.learner(model, rule, **implementation)
        if getattr(getattr(rule, 'signal', None), 'needs_target', False):
            from .snn import TargetOnlineLearner       # the stateful shell for a target-driven signal
            return TargetOnlineLearner(model, rule, **implementation)
        return None

    def __init__(self, model, rule: Rule, name=None, vjp_method='single-step', trace_dtype=None):
        if not isinstance(rule, Rule):
            raise TypeError(f'{type(self).__name__} runs a Rule value, e.g. braintrace_lab.algorithms.rules.eprop() '
                            f"or Rule('mine', FullTrace(), Backprop(), 'cut'); got {rule!r}.")
        super().__init__(model, name=name, vjp_method=vjp_method, trace_dtype=trace_dtype)
        self.rule = rule

    @property
    def rule_name(self) -> str:
        """The name in the rule's messages: the rule's own for the generic shell, else the class name."""
        return self.rule.name if vars(type(self)).get('generic') else type(self).__name__

    def update(self, *inputs, **kwargs):
        out = super().update(*inputs, **kwargs)
        if self.rule.trace.per_step_parts:          # OTTT: this step's Df is not carried to the next
            self.etrace.value = carried_traces(self._plan, self.etrace.value)
        return out

    def __repr__(self):
        if not vars(type(self)).get('generic'):
            return super().__repr__()
        state = 'compiled' if self._plan is not None else 'not compiled'
        return f'{type(self).__name__}({self.rule!r}, model={type(self.model).__name__}, {state})'


class ParamDimVjpAlgorithm(OnlineLearner):
    """D-RTRL: a full eligibility trace per weight, ``eps^t = D^t eps^{t-1} + D_f^t (x) x^t``.

    Gradient ``sum_t dL^t/dh^t . eps^t``. Exact (equal to BPTT) when each hidden
    group's transition is position-diagonal and the op feeds it element-wise:
    leaky integrators, LIF/ALIF layers with feed-forward input. Memory ``O(B |theta| S)``.

    >>> learner = D_RTRL(model); learner.compile_graph(x0); y = learner(x0)
    """
    display_name = 'D-RTRL'

    def __init__(self, model, name=None, vjp_method='single-step', trace_dtype=None):
        super().__init__(model, d_rtrl(), name=name, vjp_method=vjp_method, trace_dtype=trace_dtype)


D_RTRL = ParamDimVjpAlgorithm


class IODimVjpAlgorithm(OnlineLearner):
    """ES-D-RTRL (pp_prop): factorised traces of memory ``O(B (I + O S))``.

    With a float decay ``a``: ``ex^t = a ex^{t-1} + x^t``,
    ``ef^t = a D^t ef^{t-1} + D_f^t``, gradient ``ex (x) (dL/dh . ef)``. One step
    after a reset (``ex = x``, ``ef = D_f``) this is the exact gradient, as braintrace's
    first step is. ``normalized=True`` selects the form the seed documents,
    ``ef^t = a D^t ef^{t-1} + (1 - a) D_f^t``: every traced weight's gradient is then
    scaled by ``1 - a`` (exactly ``(1 - a)`` times the default's, at every step), which
    shrinks hidden weights' gradients against the readout's.
    With an int rank ``r``: the D-RTRL trace kept as ``r`` factor pairs, truncated
    to its top ``r`` singular modes each step (memory ``O(B r (I + O S))``);
    ``r = min(I, O S)`` reproduces D-RTRL.

    ``normalized=True, bias_correction=True`` is braintrace's form: ``ef`` with ``(1 - a) D_f``,
    divided by ``1 - a^n`` after ``n`` steps (exact at the first step, ``(1 - a)`` times
    the default's in the long run). An integer here is a rank; braintrace reads an
    integer ``r`` as the decay ``(r - 1) / (r + 1)``.

    >>> learner = pp_prop(model, decay_or_rank=0.9)   # or decay_or_rank=8 (rank)
    >>> learner = pp_prop(model, decay_or_rank=0.9, normalized=True, bias_correction=True)  # braintrace's numbers
    """
    display_name = 'ES-D-RTRL (pp_prop)'

    def __init__(self, model, decay_or_rank=REQUIRED, name=None, vjp_method='single-step', trace_dtype=None,
                 normalized: bool = False, *, bias_correction: bool = False):
        if decay_or_rank is REQUIRED:
            raise missing_option(type(self), 'decay_or_rank')
        self.mode, self.value = check_decay_or_rank(decay_or_rank)
        self.normalized = check_flag('normalized', normalized, type(self).__name__)
        self.bias_correction = check_flag('bias_correction', bias_correction, type(self).__name__)
        rule = es_d_rtrl(decay_or_rank, self.normalized, self.bias_correction)
        super().__init__(model, rule, name=name, vjp_method=vjp_method, trace_dtype=trace_dtype)
        self.decay_or_rank = decay_or_rank


ES_D_RTRL = IODimVjpAlgorithm
pp_prop = IODimVjpAlgorithm
