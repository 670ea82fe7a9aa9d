"""Is a spiking network alive? Firing rates, silent neurons and peak voltages.

A spiking population is any module of the model with a ``get_spike()`` method
and a membrane-potential state ``V`` (``brainpy.state.LIF``, ``ALIF`` ...).
Gradients of a silent (or saturated) network say little, so check this before
comparing learning rules. The rate is spikes per neuron per step, i.e. the
fraction of steps on which a neuron fires.
"""
from __future__ import annotations

import dataclasses

import brainstate
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np

from ._program import OracleInputError, prepare, preserved_states
from .metrics import path_str

__all__ = ['PopulationActivity', 'LivenessReport', 'SilentNetworkError', 'check_liveness',
           'require_live', 'find_spiking_populations']


class SilentNetworkError(RuntimeError):
    """A spiking network is silent, too quiet or saturated (see the message)."""


@dataclasses.dataclass(frozen=True)
class PopulationActivity:
    """Activity of one spiking population over the run.

    ``rate``: spikes per neuron per step; ``silent_fraction``: neurons that
    never spiked; ``v_peak``: the highest membrane potential reached (by any
    neuron at any step) and ``v_th_min``/``v_th_max`` the threshold, both as
    numbers in ``unit`` (``''`` when unitless; threshold ``nan`` if the module
    has no ``V_th``).
    ``status`` is ``'silent'``, ``'quiet'``, ``'live'`` or ``'saturated'``.
    """
    name: str
    n_neurons: int
    rate: float
    silent_fraction: float
    v_peak: float
    v_th_min: float
    v_th_max: float
    unit: str
    status: str
    message: str
    steps_per_call: int = 1


@dataclasses.dataclass(frozen=True)
class LivenessReport:
    """Result of :func:`check_liveness`; ``is_live`` iff every population is ``'live'``."""
    populations: tuple
    n_steps: int
    low: float
    high: float
    is_live: bool
    message: str

    def __repr__(self) -> str:
        head = f'LivenessReport(is_live={self.is_live}, {self.n_steps} steps, rate band [{self.low:g}, {self.high:g}])'
        rows = [f'  {p.name}: {p.status}, rate {p.rate:.4g}, silent {p.silent_fraction:.0%}, '
                f'V peak {_with_unit(f"{p.v_peak:.3g}", p.unit)} vs threshold {_thr(p)}' for p in self.populations]
        return '\n'.join([head] + rows + [f'  {self.message}'])

    __str__ = __repr__


def _thr(p) -> str:
    if np.isnan(p.v_th_min):
        return 'unknown'
    if np.isclose(p.v_th_min, p.v_th_max):
        return _with_unit(f'{p.v_th_min:.3g}', p.unit)
    return _with_unit(f'{p.v_th_min:.3g}..{p.v_th_max:.3g}', p.unit)


def find_spiking_populations(model) -> list:
    """``[(name, module)]`` for every module with ``get_spike()`` and a ``V`` state."""
    found = []
    for key, node in model.nodes().items():
        if callable(getattr(node, 'get_spike', None)) and isinstance(getattr(node, 'V', None), brainstate.State):
            found.append((path_str(key) or type(node).__name__, node))
    return found


def _threshold(node, unit):
    """``(min, max)`` of ``node.V_th`` as numbers in ``unit``; nan if unknown or not comparable."""
    nan = (float('nan'), float('nan'))
    v_th = getattr(node, 'V_th', None)
    if isinstance(v_th, brainstate.State):
        v_th = v_th.value
    if v_th is None:
        return nan
    try:
        if isinstance(v_th, u.Quantity):
            vals = v_th.to_decimal(unit)
        elif unit.is_unitless:
            vals = v_th
        else:
            return nan
        vals = np.asarray(vals, dtype=np.float64)
    except Exception:  # incompatible units
        return nan
    return float(np.min(vals)), float(np.max(vals))


def _per_neuron(count, node):
    """Sum spike counts over any leading batch axes, leaving the population's ``varshape``."""
    varshape = tuple(getattr(node, 'varshape', count.shape))
    k = len(varshape) if count.shape[count.ndim - len(varshape):] == varshape else count.ndim
    return count.reshape((-1,) + count.shape[count.ndim - k:]).sum(axis=0)


def _with_unit(text: str, unit: str) -> str:
    return f'{text} {unit}' if unit else text


def _describe(name, T, rate, silent, v_peak, thr, unit, low, high):
    peak = f'its membrane potential peaked at {_with_unit(f"{v_peak:.3g}", unit)}'
    if not np.isnan(thr[0]):
        thr_s = f'{thr[0]:.3g}' if np.isclose(*thr) else f'{thr[0]:.3g}..{thr[1]:.3g}'
        peak += f' against a threshold of {_with_unit(thr_s, unit)}'
    if rate == 0:
        return 'silent', (f"population '{name}' never spiked in {T} steps: {peak}; "
                          f'scale up the input weights or the input')
    if rate < low:
        return 'quiet', (f"population '{name}' fires rarely: {rate:.3g} spikes per neuron per step "
                         f'(below low={low:g}) and {silent:.0%} of its neurons never spiked; {peak}; '
                         f'scale up the input weights or the input')
    if rate > high:
        return 'saturated', (f"population '{name}' fires on {rate:.0%} of steps (above high={high:g}): "
                             f'saturated; scale down the input weights or the input')
    return 'live', (f"population '{name}' is live: {rate:.3g} spikes per neuron per step, "
                    f'{silent:.0%} of its neurons silent')


def check_liveness(model, xs, low: float = 0.001, high: float = 0.5) -> LivenessReport:
    """Run ``model`` over ``xs`` (time axis first, states left unchanged) and rate its populations.

    A population is live when its rate (spikes per neuron per step) lies in
    ``[low, high]``.

    >>> fx = braintrace_lab.models.get_fixture('lif')
    >>> with fx.context():                                   # dt = 1 ms
    ...     net = fx.build(); xs, _ = fx.data(T=20, seed=0)
    ...     report = check_liveness(net, xs)
    >>> report.is_live, report.message
    """
    pops = find_spiking_populations(model)
    if not pops:
        raise OracleInputError(f'{type(model).__name__} has no spiking population (a module with a '
                               f'get_spike() method and a V state).')
    units = [u.get_unit(node.V.value) for _, node in pops]
    unit_names = ['' if unit.is_unitless else str(unit) for unit in units]
    probe = lambda: tuple((u.get_mantissa(node.V.value), u.get_mantissa(node.get_spike())) for _, node in pops)
    with preserved_states(model):
        s = prepare(model, xs, probe=probe, need_params=False)
        prog = s.program

        @jax.jit
        def run(theta, h0, o0, xs_):
            def body(carry, inp):
                h, o, acc = carry
                _, h, o, probed = prog.step(theta, h, o, *inp)
                acc = tuple((cnt + spk, jnp.maximum(vmax, v)) for (cnt, vmax), (v, spk) in zip(acc, probed))
                return (h, o, acc), None

            acc0 = tuple((jnp.zeros(spk.shape, spk.dtype), jnp.full(v.shape, -jnp.inf, v.dtype))
                         for v, spk in prog.probe_shape)
            return jax.lax.scan(body, (h0, o0, acc0), (xs_, jnp.arange(s.T, dtype=jnp.int32)))[0][2]

        acc = run(s.theta0, s.h0, s.o0, s.xs)
    steps = _count_population_steps(model, pops, jax.tree.map(lambda a: a[0], xs))
    rows = []
    for (name, node), unit, unit_name, (count, vmax), n_calls in zip(pops, units, unit_names, acc, steps):
        count = np.asarray(count, dtype=np.float64)
        per_neuron = _per_neuron(count, node)
        rate = float(count.sum() / (max(count.size, 1) * s.T))
        silent = float(np.mean(per_neuron == 0))
        v_peak = float(np.max(np.asarray(vmax)))
        thr = _threshold(node, unit)
        status, msg = _describe(name, s.T, rate, silent, v_peak, thr, unit_name, low, high)
        if n_calls > 1:
            msg += (f'; it is stepped {n_calls} times per model step (for example '
                    f'`self.readout(self.{name}())` steps it again with zero input): read its spikes '
                    f'with `self.{name}.get_spike()` instead')
            if status == 'live':
                status = 'stepped_twice'
        rows.append(PopulationActivity(name, int(np.size(per_neuron)), rate, silent, v_peak, thr[0], thr[1],
                                       unit_name, status, msg, n_calls))
    bad = [r.message for r in rows if r.status != 'live']
    is_live = not bad
    message = '; '.join(bad) if bad else 'all populations live: ' + '; '.join(r.message for r in rows)
    return LivenessReport(tuple(rows), s.T, low, high, is_live, message)


def _count_population_steps(model, pops, x0) -> list:
    """How many times each population's ``update`` runs during one ``model(x0)`` (traced, no side effects)."""
    counts = [0] * len(pops)
    for i, (_, node) in enumerate(pops):
        original = node.update

        def counted(*args, _i=i, _f=original, **kwargs):
            counts[_i] += 1
            return _f(*args, **kwargs)

        object.__setattr__(node, 'update', counted)
    try:
        with preserved_states(model):
            brainstate.transform.StatefulFunction(lambda x: model(x)).make_jaxpr(x0)
    except Exception:       # counting is advisory: never hide the rates because of it
        return [1] * len(pops)
    finally:
        for _, node in pops:
            object.__delattr__(node, 'update')
    return counts


def require_live(model, xs, low: float = 0.001, high: float = 0.5) -> LivenessReport:
    """:func:`check_liveness`, raising :class:`SilentNetworkError` unless the network is live.

    >>> fx = braintrace_lab.models.get_fixture('lif')
    >>> with fx.context():                                   # no input: nothing spikes
    ...     require_live(fx.build(), 0 * fx.data(T=20, seed=0)[0])  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    SilentNetworkError: population ... never spiked ...
    """
    report = check_liveness(model, xs, low, high)
    if not report.is_live:
        raise SilentNetworkError(report.message)
    return report
