"""Online gradient versus the exact oracle on one sequence: per parameter, per step (or window).

For a learner stepped over ``xs`` the online gradient splits into per-step terms
``g^t`` (or per-window terms with a multi-step window of ``K`` inputs). The oracle's
per-step terms ``g*^t = dL^t/dtheta`` (BPTT by reverse mode, or RTRL) are summed over
the same windows, and each window is compared by cosine and relative error; the totals
``sum_t g^t`` vs ``sum_t g*^t`` are compared parameter by parameter.

>>> res = gradient_agreement(fixture_model('rnn'), 'rnn', algorithm='pp_prop', decay=0.9)
>>> res.report.cosine, res.per_step_cosine, res.scatter['cell.W.weight']
"""
from __future__ import annotations

import dataclasses
import numbers
from typing import Dict, Optional

import numpy as np

from ..rules_table import find, lookup, rule_key
from .data import as_source
from .faults import check_positive_int
from .learners import algorithm_label, call_model_factory, sequence_grads
from .runner import _env

__all__ = ['AgreementResult', 'gradient_agreement', 'ONLINE_ALGORITHMS']

ONLINE_ALGORITHMS = ('d_rtrl', 'pp_prop')


@dataclasses.dataclass
class AgreementResult:
    """Agreement of an online gradient with the oracle on one sequence.

    ``report``: :class:`~braintrace_lab.oracle.AgreementReport` of the totals;
    ``window_end``: last step of each window; ``per_step_cosine`` /
    ``per_step_relative_error``: one value per window; ``scatter[param]``:
    ``(online, oracle)`` entries (subsampled to ``max_points``).
    """
    algorithm: str
    options: dict
    window: int
    oracle: str
    report: object
    window_end: np.ndarray
    per_step_cosine: np.ndarray
    per_step_relative_error: np.ndarray
    scatter: Dict[str, tuple]
    T: int

    @property
    def label(self) -> str:
        return algorithm_label(self.algorithm, self.options)

    @property
    def cosine(self) -> float:
        return float(self.report.cosine)

    @property
    def relative_error(self) -> float:
        return float(self.report.relative_error)

    def summary(self) -> str:
        w = '' if self.window == 1 else f', window {self.window}'
        return (f'{self.label}{w} vs {self.oracle.upper()}: cosine {self.cosine:.6f}, '
                f'relative error {self.relative_error:.3g}')

    def to_dict(self) -> dict:
        return {'algorithm': self.algorithm, 'label': self.label, 'options': dict(self.options),
                'window': self.window, 'oracle': self.oracle, 'T': self.T, 'report': self.report.to_dict(),
                'window_end': self.window_end.tolist(), 'per_step_cosine': self.per_step_cosine.tolist(),
                'per_step_relative_error': self.per_step_relative_error.tolist(),
                'scatter': {k: [np.asarray(a).tolist(), np.asarray(b).tolist()] for k, (a, b) in self.scatter.items()}}

    def __repr__(self) -> str:
        return f'AgreementResult({self.summary()})'


def _flat(tree) -> np.ndarray:
    import jax
    leaves = jax.tree.leaves(tree)
    if not leaves:
        return np.zeros(0)
    return np.concatenate([np.asarray(getattr(x, 'mantissa', x), np.float64).ravel() for x in leaves])


def _per_window(per_step: dict, keys, T: int, window: int) -> np.ndarray:
    """``(n_windows, P)``: per-step terms summed within windows, all parameters flattened."""
    import jax
    cols = []
    for k in keys:
        for leaf in jax.tree.leaves(per_step[k]):
            a = np.asarray(getattr(leaf, 'mantissa', leaf), np.float64).reshape(T, -1)
            cols.append(a)
    mat = np.concatenate(cols, axis=1)
    starts = np.arange(0, T, window)
    return np.add.reduceat(mat, starts, axis=0)


def _metrics(A, B):
    from ..oracle.metrics import _cos, _rel
    return np.array([_cos(a, b) for a, b in zip(A, B)]), np.array([_rel(a, b) for a, b in zip(A, B)])


def _online_windows(learner, params, xs, step_loss, window: int):
    """Per-window online gradient terms ``{key: (n_windows, ...)}`` (multi-step learner)."""
    import brainstate
    import jax
    import jax.numpy as jnp
    T = int(np.shape(xs)[0])
    out = []
    for start in range(0, T, window):
        stop = min(start + window, T)

        def window_loss(start=start, stop=stop):
            outs = learner(xs[start:stop])
            return jnp.stack([step_loss(jax.tree.map(lambda o, s=s: o[s], outs), start + s)
                              for s in range(stop - start)]).sum()

        out.append(brainstate.transform.grad(window_loss, params)())
    return {k: jax.tree.map(lambda *a: jnp.stack(a), *[g[k] for g in out]) for k in params}


def _decay_options(entry, decay, rank) -> dict:
    """``{'decay_or_rank': ...}`` for pp_prop (decay 0.9 unless told), nothing for a rule that takes neither."""
    from ..algorithms.options import check_decay_or_rank
    if entry.name != 'pp_prop':
        if decay is not None or rank is not None:
            given = ', '.join(f'{k}={v!r}' for k, v in (('decay', decay), ('rank', rank)) if v is not None)
            raise ValueError(f"{given}: decay and rank set ES-D-RTRL (pp_prop)'s trace and {entry.display_name} takes "
                             f"neither; leave them out, or choose algorithm='pp_prop'.")
        return {}
    if rank is not None and decay is not None:
        raise ValueError(f'give decay={decay!r} or rank={rank!r} for pp_prop, not both.')
    if rank is not None:
        return {'decay_or_rank': check_positive_int(rank, 'rank', example=4)}
    value = 0.9 if decay is None else decay
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        raise TypeError(f'decay must be a float in (0, 1), got {value!r}; an integer is a rank: pass rank={value!r}.')
    return {'decay_or_rank': check_decay_or_rank(value)[1]}


def gradient_agreement(model_factory, data, algorithm: str = 'd_rtrl', decay: Optional[float] = None,
                       window: int = 1, oracle: str = 'bptt', T: int = 20, seed: int = 0,
                       batch_size: Optional[int] = 2, max_points: int = 400, rank: Optional[int] = None,
                       cache: Optional[dict] = None) -> AgreementResult:
    """Compare an online learner's gradient with the oracle's on one sequence of ``data``.

    ``algorithm`` is any registered online rule (``'d_rtrl'``, ``'pp_prop'``, ...);
    ``model_factory(batch_size)`` builds a fresh model (``None`` with a fixture name for
    ``data`` uses that fixture). ``decay`` (default 0.9) or ``rank`` configures ``pp_prop``
    and is refused for any other rule; ``window > 1`` uses the multi-step learner (exact
    inside each window).

    >>> res = gradient_agreement(None, 'lif', algorithm='d_rtrl')
    >>> res.summary()
    'd_rtrl vs BPTT: cosine 1.000000, relative error ...'
    """
    import brainstate
    import jax
    from ..oracle import agreement, bptt_grad_per_step, path_str, rtrl_grad_per_step
    from ..registry import compile as compile_learner
    from .learners import fixture_model
    algorithm = rule_key(algorithm)
    if algorithm in find('bptt').names:
        raise ValueError(f"algorithm='bptt' is the oracle itself: choose an online rule such as "
                         f"{ONLINE_ALGORITHMS} (braintrace-lab rules --path agreement lists them all).")
    entry = lookup(algorithm, 'agreement')
    if oracle not in ('bptt', 'rtrl'):
        raise ValueError(f"oracle={oracle!r}: choose 'bptt' or 'rtrl'.")
    window = check_positive_int(window, 'window', example=4)
    T = check_positive_int(T, 'T', example=20)
    batch_size = 1 if batch_size is None else check_positive_int(batch_size, 'batch_size', example=2)
    options = _decay_options(entry, decay, rank)
    source = as_source(data, T=T)
    key = (id(model_factory), data if isinstance(data, str) else id(data), oracle, seed, batch_size, T)
    if model_factory is None:
        fx = getattr(source, 'fixture', None)
        if fx is None:
            raise ValueError('model_factory=None needs a fixture (name) as data.')
        model_factory = fixture_model(fx)
    with _env(model_factory):
        batch = source.batch(batch_size, 0, seed)
        xs = batch.inputs
        T = batch.T
        window = min(window, T)

        def step_loss(out, t):
            return source.step_loss(out, t, batch)

        if cache is not None and cache.get('key') == key:
            model, ref_per, init = cache['model'], cache['ref_per'], cache['init']
            for st, v in init:
                st.value = v
        else:
            model = call_model_factory(model_factory, batch.batch_size, seed)
            init = [(st, st.value) for st in model.states().values()]
            ref_fn = bptt_grad_per_step if oracle == 'bptt' else rtrl_grad_per_step
            ref_per, _ = ref_fn(model, xs, step_loss)
            if cache is not None:
                cache.clear()
                cache.update(key=key, model=model, ref_per=ref_per, init=init)
        params = model.states(brainstate.ParamState)
        keys = list(params)
        vjp = {} if window == 1 else {'vjp_method': 'multi-step'}
        learner = compile_learner(model, algorithm, xs[0], **options, **vjp)
        if window == 1:
            run = brainstate.transform.jit(lambda x: sequence_grads(learner, params, x, step_loss, per_step=True)[0])
        else:
            run = brainstate.transform.jit(lambda x: _online_windows(learner, params, x, step_loss, window))
        online = jax.device_get(run(xs))
    online_win = np.concatenate([np.asarray(getattr(l, 'mantissa', l), np.float64).reshape(
        -1, int(np.prod(np.shape(l)[1:], dtype=int))) for k in keys for l in jax.tree.leaves(online[k])], axis=1)
    ref_win = _per_window(ref_per, keys, T, window)
    cos, rel = _metrics(online_win, ref_win)
    totals = {k: jax.tree.map(lambda a: np.asarray(getattr(a, 'mantissa', a)).sum(0), online[k]) for k in keys}
    ref_tot = {k: jax.tree.map(lambda a: np.asarray(getattr(a, 'mantissa', a)).sum(0), ref_per[k]) for k in keys}
    report = agreement(totals, ref_tot)
    rng = np.random.default_rng(0)
    scatter = {}
    for k in keys:
        a, b = _flat(totals[k]), _flat(ref_tot[k])
        if a.size > max_points:
            idx = np.sort(rng.choice(a.size, max_points, replace=False))
            a, b = a[idx], b[idx]
        scatter[path_str(k)] = (a.astype(np.float32), b.astype(np.float32))
    ends = np.minimum(np.arange(0, T, window) + window, T) - 1
    return AgreementResult(algorithm, options, window, oracle, report, ends, cos, rel, scatter, T)
