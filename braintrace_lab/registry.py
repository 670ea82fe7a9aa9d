"""``compile(model, algorithm, *example_inputs, **options)`` and the algorithm name registry."""
from __future__ import annotations

from typing import Dict

from .algorithms.base import ETraceAlgorithm

__all__ = ['compile', 'register_algorithm', 'algorithm_names', 'resolve_algorithm']

_REGISTRY: Dict[str, type] = {}


def register_algorithm(cls, *names):
    """Make ``cls`` reachable from :func:`compile` under each (case-insensitive) name."""
    for n in names:
        _REGISTRY[n.lower()] = cls
    return cls


def algorithm_names():
    return sorted(_REGISTRY)


def resolve_algorithm(algorithm):
    if isinstance(algorithm, type):
        if issubclass(algorithm, ETraceAlgorithm):
            return algorithm
        raise TypeError(f'algorithm class must subclass ETraceAlgorithm, got {algorithm.__name__}.')
    if isinstance(algorithm, str):
        key = algorithm.strip().lower().replace('-', '_')
        if key in _REGISTRY:
            return _REGISTRY[key]
        raise ValueError(f'unknown algorithm {algorithm!r}; valid names: {", ".join(algorithm_names())}.')
    raise TypeError(f'algorithm must be a registered name or an ETraceAlgorithm subclass, got '
                    f'{type(algorithm).__name__}.')


def compile(model, algorithm, *example_inputs, **options):
    """Build a learner for ``model`` and compile its graph on ``example_inputs``.

    >>> learner = braintrace_lab.compile(model, 'pp_prop', x0, decay_or_rank=0.9)
    """
    cls = resolve_algorithm(algorithm)
    if not example_inputs:
        raise ValueError('compile() needs at least one example input (one time step), e.g. '
                         'compile(model, "d_rtrl", x0).')
    learner = cls(model, **options)
    learner.compile_graph(*example_inputs)
    return learner


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
    from .algorithms import rflo
    register_algorithm(rflo.RFLO, 'rflo')


_register_core()
