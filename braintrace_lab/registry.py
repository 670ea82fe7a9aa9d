"""``compile(model, algorithm, *example_inputs, batch_size=None, vmap=False, **options)`` and the rule registry."""
from __future__ import annotations

import contextlib
import inspect
import numbers
from typing import Optional

import brainstate
import jax
import numpy as np

from .algorithms.base import ETraceAlgorithm
from .algorithms.presets import OnlineLearner
from .algorithms.rule import Rule
from .algorithms.sequence import ETraceVmap
from .rules_table import _REGISTRY, algorithm_names, register_algorithm, rule_key, unknown_rule_message

__all__ = ['compile', 'register_algorithm', 'algorithm_names', 'resolve_algorithm']


# braintrace's registered names this package has no rule for, with what to use instead
_NOT_SERVED = {
    'dni': "'pp_prop' or 'd_rtrl' (no synthetic-gradient module here)",
}


def resolve_algorithm(algorithm):
    if isinstance(algorithm, Rule):
        return OnlineLearner            # a rule value: the generic shell runs it (compile passes rule=)
    if isinstance(algorithm, type):
        if issubclass(algorithm, ETraceAlgorithm):
            return algorithm
        raise TypeError(f'algorithm class must subclass ETraceAlgorithm, got {algorithm.__name__}.')
    if isinstance(algorithm, str):
        key = rule_key(algorithm)
        if key in _REGISTRY:
            return _REGISTRY[key]
        if key in _NOT_SERVED:
            raise ValueError(f'braintrace_lab has no {algorithm!r} rule; use {_NOT_SERVED[key]}.')
        raise ValueError(unknown_rule_message(algorithm) + '.')
    if type(algorithm).__name__ == 'ETraceConfig':
        raise TypeError('braintrace_lab does not take an ETraceConfig; pass a rule by name or class, e.g. '
                        "compile(model, 'd_rtrl', x0) or compile(model, 'pp_prop', x0, decay_or_rank=0.9).")
    raise TypeError(f'algorithm must be a registered name, an ETraceAlgorithm subclass or a Rule value '
                    f'(braintrace_lab.rules.eprop(...)), got {type(algorithm).__name__}.')


def _check_model_and_inputs(model, example_inputs, seed) -> tuple:
    """Refuse a model that is not a module and a seed that is not an int; nested lists of numbers as arrays."""
    if not isinstance(model, brainstate.nn.Module):
        raise TypeError(f'compile: model must be a brainstate.nn.Module (a network whose states the rule traces), '
                        f'got {type(model).__name__}; build the network as a brainstate.nn.Module subclass with '
                        f'an update(x) method, e.g. braintrace_lab.models.get_fixture("leaky").build(batch_size=8).')
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f'compile: seed={seed!r} ({type(seed).__name__}) must be an int (or None); pass e.g. seed=0.')

    def as_array(x):                      # [[1., 2.], ...]: Python numbers only, so one array is meant
        if isinstance(x, (list, tuple)) and x and all(isinstance(v, (bool, int, float)) for v in jax.tree.leaves(x)):
            try:
                return jax.numpy.asarray(x)
            except (TypeError, ValueError) as err:
                raise ValueError(f'compile: an example input is a nested list of numbers that is not one array '
                                 f'({err}); give an array, e.g. jnp.ones((batch, features)).') from None
        return x
    return tuple(as_array(x) for x in example_inputs)


def _one_sample(example_inputs, batch_size):
    """The first sample of every leaf of batched example inputs (``compile(..., vmap=True)``)."""
    def first(a):
        shape = tuple(np.shape(getattr(a, 'mantissa', a)))
        if not shape or shape[0] != batch_size:
            raise ValueError(f'compile(..., vmap=True) needs every example input leaf to carry the batch axis '
                             f'(batch_size={batch_size}) first, got a leaf of shape {shape}.')
        return a[0]
    return jax.tree.map(first, example_inputs)


def _init_states(model, batch_size):
    """``init_all_states(model, batch_size=batch_size)``; with ``batch_size=None`` a model whose
    states already carry a leading batch axis is re-initialised with that batch size."""
    def shapes():
        return {k: tuple(np.shape(getattr(v.value, 'mantissa', v.value))) for k, v in model.states().items()
                if not isinstance(v, brainstate.ParamState) and not isinstance(v.value, (dict, tuple, list))}
    before = shapes() if batch_size is None else {}
    brainstate.nn.init_all_states(model, batch_size=batch_size)
    after = shapes() if before else {}
    for key, old in before.items():
        new = after.get(key)
        if new is not None and len(old) == len(new) + 1 and old[1:] == new:
            brainstate.nn.init_all_states(model, batch_size=old[0])
            return


def compile(model, algorithm, *example_inputs, batch_size: Optional[int] = None, seed: Optional[int] = None,
            verbose: int = 0, vmap: bool = False, strict: bool = False, **options):
    """Initialise ``model``'s states, build a learner and compile its graph on ``example_inputs``.

    braintrace's entry point: states are (re)initialised with
    ``brainstate.nn.init_all_states(model, batch_size=batch_size)`` (inside
    ``brainstate.random.seed_context(seed)`` when ``seed`` is given, which a rule taking a
    ``seed`` option receives too; with ``batch_size=None``
    states that already carry a batch axis keep its size); ``options`` go to the
    rule's constructor. With ``vmap=True`` the states are created per sample under
    ``brainstate.transform.vmap_new_states`` (``batch_size`` required, examples batched on
    axis 0) and the result is an :class:`ETraceVmap` over the per-sample learner.
    ``verbose=1`` prints the graph's report (``2`` adds its diagnostics). ``strict=True``
    refuses weights that reach a hidden state through plain JAX operations (by default they
    get their one-step gradient, named in ``learner.graph.explain()``).

    >>> learner = braintrace_lab.compile(model, 'pp_prop', x0, decay_or_rank=0.9)
    >>> fresh = braintrace_lab.models.get_fixture('leaky').make(dtype=jnp.float32)   # states not created yet
    >>> batched = braintrace_lab.compile(fresh, 'd_rtrl', x0, batch_size=4, vmap=True)   # x0: (4, features)
    """
    cls = resolve_algorithm(algorithm)
    example_inputs = _check_model_and_inputs(model, example_inputs, seed)
    if isinstance(algorithm, Rule):
        options = {'rule': algorithm, **options}
    if not example_inputs:
        raise ValueError('compile() needs at least one example input (one time step), e.g. '
                         'compile(model, "d_rtrl", x0).')
    if verbose not in (0, 1, 2):
        raise ValueError(f'verbose must be 0, 1 or 2, got {verbose!r}.')
    if vmap and batch_size is None:
        raise ValueError('compile(..., vmap=True) needs batch_size= (the size of the batch axis, axis 0 of '
                         'the example inputs).')
    graph_options = {'strict': True} if strict else {}
    seeded = (lambda: brainstate.random.seed_context(seed)) if seed is not None else contextlib.nullcontext
    if seed is not None and 'seed' in inspect.signature(cls.__init__).parameters:
        options = {**options, 'seed': seed}        # a rule with a seed of its own (UORO) gets it too
    if vmap:
        learner = cls(model, **options)
        unbatched = _one_sample(example_inputs, batch_size)

        @brainstate.transform.vmap_new_states(state_tag='new', axis_size=batch_size)
        def init():
            brainstate.nn.init_all_states(model)
            if not brainstate.transform.in_new_state_probe():
                learner.compile_graph(*unbatched, **graph_options)

        with seeded():
            init()
        result = ETraceVmap(learner, vmap_states='new')
        result.vmap_batch_size = batch_size             # a call with another batch is refused, naming both
    else:
        with seeded():
            _init_states(model, batch_size)
        learner = cls(model, **options)
        learner.compile_graph(*example_inputs, **graph_options)
        result = learner
    if not learner.graph.relations:
        from .errors import CompilationError
        raise CompilationError('no trainable weight reaches a hidden state through an ETP op, so the model has '
                               'nothing to learn online: route its weights through braintrace_lab.matmul / '
                               'conv / sparse_matmul / lora_matmul / element_wise.\n' + learner.graph.explain())
    if verbose:
        text = learner.graph.explain()
        if verbose < 2:
            text = '\n'.join(line for line in text.splitlines() if not line.lstrip().startswith(('info:', 'warning:')))
        print(text)
    return result


def _register_core():
    from .algorithms import presets
    register_algorithm(presets.D_RTRL, 'd_rtrl', 'paramdimvjpalgorithm', 'param_dim')
    register_algorithm(presets.pp_prop, 'pp_prop', 'es_d_rtrl', 'esd_rtrl', 'iodimvjpalgorithm', 'io_dim')
    from .algorithms import references, snn
    register_algorithm(snn.EProp, 'eprop', 'e_prop')
    register_algorithm(snn.OSTLRecurrent, 'ostl_recurrent')
    register_algorithm(snn.OSTLFeedforward, 'ostl_feedforward')
    register_algorithm(snn.OTPE, 'otpe')
    register_algorithm(snn.OTTT, 'ottt')
    register_algorithm(snn.OSTTP, 'osttp')
    register_algorithm(references.RTRL, 'rtrl')
    register_algorithm(references.TBPTT, 'tbptt')
    register_algorithm(references.BPTT, 'bptt')
    from .algorithms import influence
    register_algorithm(influence.SnAp, 'snap', 'snap_n')
    register_algorithm(influence.UORO, 'uoro')
    from .algorithms import kf_rtrl
    register_algorithm(kf_rtrl.KFRTRL, 'kf_rtrl', 'kfrtrl')
    from .algorithms import rflo
    register_algorithm(rflo.RFLO, 'rflo')
    from .algorithms import three_factor
    register_algorithm(three_factor.ThreeFactor, 'three_factor', 'threefactor')


_register_core()
