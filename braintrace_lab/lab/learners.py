"""Learners for the lab: a plain BPTT learner and factories that build fresh models and learners.

Every learner here exposes one sequence function used inside a jitted training step::

    grads, losses, outputs, signal_sq = sequence_grads(learner, params, xs, step_loss)

with ``L = sum_t step_loss(y^t, t)``. Online learners step once per input and
accumulate ``dL^t/dtheta`` (their online estimate); :class:`BPTT` differentiates the
summed loss in reverse mode through a scan over the sequence (the exact gradient).

>>> factory = make_learner(fixture_model('lif', task), 'pp_prop', decay_or_rank=0.9)
>>> learner = factory(x0)              # x0: one batched step input (B, F)
"""
from __future__ import annotations

import inspect
from typing import Callable, Optional

import numpy as np

from ..algorithms.chunked import run_chunked
from ..algorithms.time_driver import scan_time
from ..rules_table import lookup, rule_key

__all__ = ['BPTT', 'ModelFactory', 'fixture_model', 'LearnerFactory', 'make_learner',
           'algorithm_label', 'sequence_grads', 'is_online', 'check_learner', 'check_model_factory']

_PROBE = ('__lab_learning_signal__',)


def algorithm_label(algorithm: str, options: Optional[dict] = None) -> str:
    """Short readable name: ``'pp_prop(0.9)'``, ``'d_rtrl'``, ``'eprop(feedback=random,kappa=0.5)'``."""
    options = dict(options or {})
    parts = []
    if 'decay_or_rank' in options:
        v = options.pop('decay_or_rank')
        parts.append(f'{"rank " if isinstance(v, int) and not isinstance(v, bool) else ""}{v:g}'
                     if isinstance(v, (int, float)) else f'{v}')
    parts += [f'{k}={v:g}' if isinstance(v, float) else f'{k}={v}' for k, v in options.items()]
    return f'{algorithm}({",".join(parts)})' if parts else algorithm


class BPTT:
    """Backpropagation through time as a lab learner: exact, offline, memory ``O(T)``.

    :math:`\\nabla_\\theta \\sum_t L^t` by reverse mode through a scan over the sequence.
    It keeps no eligibility trace; ``trace_memory()`` reports the hidden states it must
    store for the backward pass: ``sequence_length`` copies (``T``, the length of the
    sequences it learns from; :func:`sequence_grads` and the lab's trainer set it, and
    ``None`` counts one copy).

    >>> learner = BPTT(model); learner.compile_graph(x0)
    """
    name = 'bptt'

    def __init__(self, model):
        import brainstate
        if not isinstance(model, brainstate.nn.Module):
            raise TypeError(f'BPTT needs a brainstate.nn.Module, got {type(model).__name__}.')
        self.model = model
        self.graph = None
        self.input_shape = None
        self.sequence_length: Optional[int] = None

    @property
    def is_compiled(self) -> bool:
        return self.input_shape is not None

    def compile_graph(self, x0):
        """Record the step input shape (BPTT needs no graph analysis)."""
        self.input_shape = tuple(np.shape(getattr(x0, 'mantissa', x0)))
        return None

    def eligibility_traces(self) -> dict:
        return {}

    def learning_signals(self, by: str = 'param') -> dict:
        return {}

    def trace_memory(self) -> dict:
        """Bytes of hidden state kept for the backward pass: ``T x`` one step's hidden states."""
        import brainstate
        import jax
        step = sum(int(np.size(x)) * np.dtype(x.dtype).itemsize
                   for st in self.model.states(brainstate.HiddenState).values()
                   for x in jax.tree.leaves(getattr(st.value, 'mantissa', st.value)))
        return {'(activations)': step * (self.sequence_length or 1)}

    def __repr__(self):
        return f'BPTT(model={type(self.model).__name__}, {"compiled" if self.is_compiled else "not compiled"})'


def is_online(learner) -> bool:
    return not isinstance(learner, BPTT)


def _zeros_like_params(params):
    import jax
    import jax.numpy as jnp
    return {k: jax.tree.map(jnp.zeros_like, v.value) for k, v in params.items()}


def _signal_sq(learner, rel_params):
    """``{param: ||dL/dh||^2}`` of the learning signal the learner recorded last (float32)."""
    import jax.numpy as jnp
    by_param = learner.learning_signals(by='param')
    return {p: jnp.sum(jnp.square(by_param[p])).astype(jnp.float32) for p in rel_params}


def sequence_grads(learner, params, xs, step_loss: Callable, per_step: bool = False,
                   chunk: Optional[int] = None):
    """Gradient of ``sum_t step_loss(y^t, t)`` over ``xs (T, ...)`` (call inside a jit).

    Returns ``(grads, losses (T,), outputs (T, ...), signal_sq)``; ``signal_sq`` maps each
    traced parameter to ``sum_t ||dL/dh^t||^2`` of its hidden group (online learners
    only). With ``per_step=True`` ``grads`` holds the per-step terms with a leading ``T``
    axis instead of their sum. ``chunk=K`` (online learners, summed gradients) adds the
    weight products that allow it once per ``K`` steps: the same sum
    (:mod:`braintrace_lab.algorithms.chunked`).
    """
    import brainstate
    import jax
    import jax.numpy as jnp
    T = int(np.shape(xs)[0])
    if isinstance(learner, BPTT):
        learner.sequence_length = T
        model = learner.model

        def total():
            def body(t):
                out = model(xs[t])
                return step_loss(out, t), getattr(out, 'mantissa', out)

            losses, outs = brainstate.transform.for_loop(body, jnp.arange(T))
            return losses.sum(), (losses, outs)

        grads, (losses, outs) = brainstate.transform.grad(total, params, has_aux=True)()
        return dict(grads), losses, outs, {}

    if hasattr(learner, 'reward_term'):          # ThreeFactor: the reward of a step is -loss
        if chunk is not None:
            raise ValueError(f'{learner.display_name} steps one input at a time and takes its reward from each '
                             f'step\'s loss: leave chunk= out.')
        grads, losses, outs = learner.sequence_grads(dict(params), xs, step_loss, per_step=per_step)
        return grads, losses, outs, {}

    rel_params = sorted({r.param for r in learner.graph.relations})
    if chunk is not None:
        if per_step:
            raise ValueError('sequence_grads: chunk=K sums the gradient over the sequence; it cannot be '
                             'combined with per_step=True.')

        def observe(out, lrn):
            return getattr(out, 'mantissa', out), _signal_sq(lrn, rel_params)

        grads, losses, (outs, sig) = run_chunked(learner, xs, step_loss, dict(params), chunk, _PROBE,
                                                 observe=observe)
        return grads, losses, outs, {p: v.sum() for p, v in sig.items()}

    targets = dict(params)
    targets[_PROBE] = learner.signal_probe
    zero = _zeros_like_params(params)
    sig0 = {p: jnp.zeros((), jnp.float32) for p in rel_params}

    def body(carry, x, t):
        acc, sig = carry

        def step():
            out = learner(x)
            loss = step_loss(out, t)
            return loss, (loss, getattr(out, 'mantissa', out))

        grads, (loss, out) = brainstate.transform.grad(step, targets, has_aux=True)()
        learner.last_signal.value = grads.pop(_PROBE)
        step_sq = _signal_sq(learner, rel_params)
        sig = {p: sig[p] + step_sq[p] for p in rel_params}
        if per_step:
            return (acc, sig), (loss, out, dict(grads))
        return (jax.tree.map(jnp.add, acc, dict(grads)), sig), (loss, out)

    if per_step:
        (_, sig), (losses, outs, per) = scan_time(body, (zero, sig0), xs)
        return per, losses, outs, sig
    (grads, sig), (losses, outs) = scan_time(body, (zero, sig0), xs)
    return grads, losses, outs, sig


# ---------------------------------------------------------------------------- argument checks
def _what(obj) -> str:
    """``obj`` in a few words, for messages: ``"the string 'd_rtrl'"``, ``"a LeakyNet model"``."""
    import brainstate
    if isinstance(obj, str):
        return f'the string {obj!r}'
    if isinstance(obj, ModelFactory):
        return f'a model factory ({obj!r})'
    if isinstance(obj, LearnerFactory):
        return f'a learner factory ({obj!r})'
    if isinstance(obj, brainstate.nn.Module) and not hasattr(obj, 'model') and not hasattr(obj, 'etrace_grad'):
        return f'a {type(obj).__name__} model (a network, not a learner)'
    if hasattr(obj, 'model') and hasattr(obj, 'is_compiled'):
        return f'a {type(obj).__name__} learner'
    return f'{obj!r:.80} ({type(obj).__name__})'


_MAKE = "make_learner(fixture_model('leaky', task), 'd_rtrl')"


def check_learner(learner) -> None:
    """Refuse what :func:`~braintrace_lab.lab.train` cannot train, saying what to pass instead."""
    import brainstate
    if isinstance(learner, LearnerFactory) or (hasattr(learner, 'model') and hasattr(learner, 'is_compiled')):
        return
    if isinstance(learner, ModelFactory):
        fix = f"choose the rule: train(make_learner({learner!r}, 'd_rtrl'), ...)"
    elif isinstance(learner, brainstate.nn.Module) and not hasattr(learner, 'etrace_grad'):
        fix = ("compile it with a rule: train(braintrace_lab.compile(model, 'd_rtrl', x0), ...), or pass "
               f"{_MAKE} to build a fresh model per run")
    elif isinstance(learner, str):
        fix = f'a rule name alone has no model: pass {_MAKE}'
    elif callable(learner):
        return                                        # a factory f(x0) -> learner
    else:
        fix = f'pass a learner factory such as {_MAKE}, or a compiled learner'
    raise TypeError(f'train: the learner is {_what(learner)}; {fix}.')


def check_model_factory(model_factory, where: str) -> None:
    """Refuse a learner, a model instance, a name or a non-callable where a model factory is needed."""
    import brainstate
    if isinstance(model_factory, ModelFactory):
        return
    bad = isinstance(model_factory, (str, LearnerFactory, brainstate.nn.Module)) or not callable(model_factory) \
        or hasattr(model_factory, 'is_compiled')
    if bad:
        extra = ''
        if isinstance(model_factory, LearnerFactory):
            extra = (f' (it builds the learner per rule itself: pass the model factory inside, '
                     f'{model_factory.model_factory!r}, and the rules as algorithms=)')
        elif isinstance(model_factory, str):
            extra = f' (for a catalog model: fixture_model({model_factory!r}, task))'
        raise TypeError(f'{where} needs a model factory, f(batch_size[, seed]) -> a fresh model such as '
                        f"fixture_model('leaky', task); got {_what(model_factory)}{extra}.")


# ---------------------------------------------------------------------------- factories
class ModelFactory:
    """Builds a fresh catalog model sized for a task: ``factory(batch_size, seed) -> model``.

    Same seed, same initial weights, so several learners start from one network.

    >>> make = fixture_model('lif', get_task('spike_patterns'), n_hidden=16)
    >>> model = make(batch_size=8)
    """

    def __init__(self, fixture, n_in=None, n_out=None, **kwargs):
        from ..models import get_fixture
        self.fixture = get_fixture(fixture) if isinstance(fixture, str) else fixture
        if not callable(getattr(self.fixture, 'build', None)):
            raise TypeError(f'fixture_model: the first argument names a catalog model, e.g. fixture_model("leaky", '
                            f'task); got {_what(fixture)}.')
        self.kwargs = dict(kwargs)
        if n_in is not None:
            self.kwargs['n_in'] = n_in
        if n_out is not None:
            self.kwargs['n_out'] = n_out
        check = getattr(self.fixture, 'check_kwargs', None)
        if check is not None:
            check(self.kwargs)                   # unknown options and bad sizes refused now, not at the first batch

    def context(self):
        return self.fixture.context()

    def __call__(self, batch_size=None, seed=None):
        kw = dict(self.kwargs)
        if seed is not None:
            kw['seed'] = seed
        with self.fixture.context():
            return self.fixture.build(batch_size=batch_size, **kw)

    @property
    def recurrent(self) -> bool:
        """Whether a hidden layer feeds itself through trainable weights (the catalog's D-RTRL-inexact models)."""
        return not self.fixture.exact

    def describe(self) -> str:
        """The model in words: the catalog's description and the size asked for."""
        size = f', {self.kwargs["n_hidden"]} hidden units' if 'n_hidden' in self.kwargs else ''
        return f'{self.fixture.description or self.fixture.name} (catalog model {self.fixture.name!r}{size})'

    def __repr__(self):
        args = ', '.join(f'{k}={v!r}' for k, v in self.kwargs.items())
        return f'fixture_model({self.fixture.name!r}{", " if args else ""}{args})'


def fixture_model(name, task=None, **kwargs) -> ModelFactory:
    """A :class:`ModelFactory` for catalog fixture ``name``, with inputs/outputs sized for ``task``.

    ``task`` is a task, a task name (``'dms'``) or ``None`` (the fixture's own sizes).

    >>> fixture_model('leaky', get_task('dms'), n_hidden=12)(batch_size=4)
    """
    if isinstance(task, str):
        from ..tasks import get_task
        task = get_task(task)
    if task is not None and not (hasattr(task, 'n_inputs') and hasattr(task, 'n_outputs')):
        raise TypeError(f'fixture_model({name!r}, task): task must be a task (get_task("dms")) or a task name, '
                        f'got {_what(task)}; for other sizes pass n_in= and n_out=.')
    if task is not None:
        kwargs.setdefault('n_in', task.n_inputs)
        kwargs.setdefault('n_out', task.n_outputs)
    return ModelFactory(name, **kwargs)


def call_model_factory(model_factory, batch_size, seed=None):
    """``model_factory(batch_size, seed)`` if it takes a seed, else ``model_factory(batch_size)``."""
    try:
        params = inspect.signature(model_factory).parameters
    except (TypeError, ValueError):
        params = {}
    takes_seed = 'seed' in params or any(p.kind == p.VAR_KEYWORD for p in params.values())
    if takes_seed and seed is not None:
        return model_factory(batch_size, seed=seed)
    return model_factory(batch_size)


class LearnerFactory:
    """``factory(x0) -> compiled learner`` for one algorithm on a fresh model of batch ``x0.shape[0]``.

    >>> factory = make_learner(fixture_model('lif', task), 'pp_prop', decay_or_rank=0.9)
    >>> learner = factory(x0)                  # x0: one batched step input (B, F)
    """

    def __init__(self, model_factory, algorithm: str, seed=None, **options):
        check_model_factory(model_factory, 'make_learner')
        self.model_factory = model_factory
        self.algorithm = rule_key(algorithm)
        # refuse an unknown rule or option now, not at the first batch
        entry = lookup(self.algorithm)
        if entry.name == 'bptt':
            if options:
                raise TypeError(f'BPTT takes no options, got {", ".join(sorted(options))}.')
        else:
            from ..algorithms.options import check_options, check_required
            check_options(entry.rule, options)
            check_required(entry.rule, options)
        self.options = options
        self.seed = seed
        self.label = algorithm_label(self.algorithm, options)

    def build(self, x0):
        import contextlib
        ctx = self.context() or contextlib.nullcontext()
        with ctx:
            batch = int(np.shape(x0)[0])
            model = call_model_factory(self.model_factory, batch, self.seed)
            if self.algorithm == 'bptt':
                learner = BPTT(model)
                learner.compile_graph(x0)
                return learner
            # the model's states are already initialised for this batch and seed: build the rule on it
            # as it is (registry.compile would initialise them again)
            from ..registry import resolve_algorithm
            learner = resolve_algorithm(self.algorithm)(model, **self.options)
            learner.compile_graph(x0)
            return learner

    __call__ = build

    def context(self):
        ctx = getattr(self.model_factory, 'context', None)
        return ctx() if callable(ctx) else None

    def __repr__(self):
        opts = ''.join(f', {k}={v!r}' for k, v in self.options.items())
        return f'make_learner({self.model_factory!r}, {self.algorithm!r}{opts})'


def make_learner(model_factory, algorithm: str, seed=None, **options) -> LearnerFactory:
    """A :class:`LearnerFactory`: ``'bptt'``, ``'d_rtrl'``, ``'pp_prop'`` or any registered name.

    >>> make_learner(fixture_model('leaky', task), 'd_rtrl')
    """
    return LearnerFactory(model_factory, algorithm, seed=seed, **options)
