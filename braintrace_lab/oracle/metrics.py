"""Agreement metrics between a gradient and a reference gradient.

Every metric takes two pytrees with the same leaves (arrays, dicts of arrays,
``brainunit`` Quantities: their mantissas are compared), flattens each into one
float64 vector and compares the vectors:

* ``relative_error(a, b) = ||a - b|| / max(||b||, tiny)``  (``b`` the reference),
* ``cosine(a, b) = <a, b> / (||a|| ||b||)``; 1 if both are zero, 0 if only one is,
* ``sign_agreement(a, b)``: fraction of entries with ``sign(a) == sign(b)``,
  counted only where the reference is clearly non-zero,
  ``|b_i| > rtol * max|b|``; ``nan`` when there is no such entry.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import NamedTuple

import jax
import numpy as np

__all__ = ['path_str', 'relative_error', 'cosine', 'sign_agreement', 'AgreementRow',
           'AgreementReport', 'agreement', 'PerStepAgreement', 'per_step_agreement']

TINY = 1e-30


def path_str(key) -> str:
    """``('linear', 'weight') -> 'linear.weight'``; a string is returned as is."""
    if isinstance(key, str):
        return key
    if isinstance(key, tuple):
        return '.'.join(str(k) for k in key)
    return str(key)


def _vec(tree) -> np.ndarray:
    leaves = jax.tree.leaves(tree)
    if not leaves:
        return np.zeros(0)
    return np.concatenate([np.asarray(x, dtype=np.float64).ravel() for x in leaves])


def _pair(a, b):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    sa, sb = [np.shape(x) for x in la], [np.shape(x) for x in lb]
    if sa != sb:
        raise ValueError(f'cannot compare: leaf shapes differ, {sa} vs reference {sb}.')
    return _vec(la), _vec(lb)


def _rel(x, y) -> float:
    return float(np.linalg.norm(x - y) / max(np.linalg.norm(y), TINY))


def _cos(x, y) -> float:
    nx, ny = np.linalg.norm(x), np.linalg.norm(y)
    if nx == 0 and ny == 0:
        return 1.0
    if nx == 0 or ny == 0:
        return 0.0
    return float(np.clip(np.dot(x, y) / (nx * ny), -1.0, 1.0))


def _sign(x, y, rtol) -> float:
    scale = np.max(np.abs(y)) if y.size else 0.0
    mask = np.abs(y) > max(rtol * scale, TINY)
    if not mask.any():
        return float('nan')
    return float(np.mean(np.sign(x[mask]) == np.sign(y[mask])))


def relative_error(a, b) -> float:
    """``||a - b|| / max(||b||, 1e-30)`` over all leaves; ``b`` is the reference.

    >>> relative_error(jnp.array([1., 1.]), jnp.array([1., 0.]))   # 1.0
    """
    return _rel(*_pair(a, b))


def cosine(a, b) -> float:
    """Cosine of the angle between ``a`` and ``b`` (1 if both zero, 0 if one is).

    >>> cosine(jnp.array([1., 0.]), jnp.array([1., 1.]))   # 0.7071
    """
    return _cos(*_pair(a, b))


def sign_agreement(a, b, rtol: float = 1e-6) -> float:
    """Fraction of entries where ``sign(a) == sign(b)``, over entries with ``|b_i| > rtol * max|b|``.

    Entries where the reference is ~0 carry no sign and are skipped (an
    estimate there is judged by ``relative_error`` instead). ``nan`` if the
    reference is zero everywhere.

    >>> sign_agreement(jnp.array([1., -1., 5.]), jnp.array([2., 3., 0.]))   # 0.5
    """
    return _sign(*_pair(a, b), rtol)


@dataclasses.dataclass(frozen=True)
class AgreementRow:
    """Agreement numbers for one parameter (or, for ``overall``, all of them)."""
    path: str
    size: int
    relative_error: float
    cosine: float
    sign_agreement: float
    norm: float
    ref_norm: float

    @classmethod
    def compare(cls, path, a, b, rtol=1e-6) -> 'AgreementRow':
        x, y = _pair(a, b)
        return cls(path, int(x.size), _rel(x, y), _cos(x, y), _sign(x, y, rtol),
                   float(np.linalg.norm(x)), float(np.linalg.norm(y)))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_HEADER = ('parameter', 'size', 'rel.err', 'cosine', 'sign', '|grad|', '|ref|')


def _fmt(row: AgreementRow) -> tuple:
    sign = '-' if np.isnan(row.sign_agreement) else f'{row.sign_agreement:.3f}'
    return (row.path, str(row.size), f'{row.relative_error:.2e}', f'{row.cosine:.6f}', sign,
            f'{row.norm:.3e}', f'{row.ref_norm:.3e}')


@dataclasses.dataclass(frozen=True)
class AgreementReport:
    """Per-parameter and overall agreement of a gradient with a reference.

    ``rows`` has one :class:`AgreementRow` per parameter key (path strings such
    as ``'linear.weight'``); ``overall`` compares all parameters at once.
    """
    rows: tuple
    overall: AgreementRow

    @property
    def relative_error(self) -> float:
        return self.overall.relative_error

    @property
    def cosine(self) -> float:
        return self.overall.cosine

    @property
    def sign_agreement(self) -> float:
        return self.overall.sign_agreement

    @property
    def max_relative_error(self) -> float:
        """The worst per-parameter relative error."""
        return max(r.relative_error for r in self.rows)

    def row(self, path: str) -> AgreementRow:
        for r in self.rows:
            if r.path == path:
                return r
        raise KeyError(f'no parameter {path!r}; have {[r.path for r in self.rows]}')

    def to_table(self) -> str:
        lines = [_HEADER] + [_fmt(r) for r in self.rows] + [_fmt(self.overall)]
        widths = [max(len(line[i]) for line in lines) for i in range(len(_HEADER))]
        fmt = lambda line: '  '.join(c.ljust(w) if i == 0 else c.rjust(w)
                                     for i, (c, w) in enumerate(zip(line, widths)))
        rule = '-' * len(fmt(lines[0]))
        body = [fmt(line) for line in lines[1:-1]]
        return '\n'.join([fmt(lines[0]), rule] + body + [rule, fmt(lines[-1])])

    def to_dict(self) -> dict:
        return {'overall': self.overall.to_dict(), 'params': {r.path: r.to_dict() for r in self.rows}}

    def __repr__(self) -> str:
        return f'AgreementReport({len(self.rows)} parameters)\n{self.to_table()}'

    __str__ = __repr__


def _check_keys(grads, reference, what='grads'):
    if not isinstance(grads, Mapping) or not isinstance(reference, Mapping):
        raise TypeError(f'{what} and reference must be dicts keyed by parameter path, got '
                        f'{type(grads).__name__} and {type(reference).__name__}.')
    missing = [path_str(k) for k in reference if k not in grads]
    extra = [path_str(k) for k in grads if k not in reference]
    if missing or extra:
        raise ValueError(f'{what} and reference have different parameters: missing {missing}, '
                         f'not in reference {extra}.')


def agreement(grads, reference, rtol: float = 1e-6) -> AgreementReport:
    """Compare two gradient dicts (``key -> pytree``) parameter by parameter.

    >>> from braintrace_lab.oracle import bptt_grad, rtrl_grad
    >>> step_loss = lambda out, t: loss_fn(out, ys[t])
    >>> bptt_grads, _ = bptt_grad(model, xs, step_loss)
    >>> rtrl_grads, _ = rtrl_grad(model, xs, step_loss)
    >>> report = agreement(rtrl_grads, bptt_grads)
    >>> print(report)              # a table; report.to_dict() for plotting/JSON
    >>> report.relative_error      # overall
    """
    _check_keys(grads, reference)
    rows = tuple(AgreementRow.compare(path_str(k), grads[k], reference[k], rtol) for k in reference)
    keys = list(reference)
    overall = AgreementRow.compare('overall', [grads[k] for k in keys], [reference[k] for k in keys], rtol)
    return AgreementReport(rows, overall)


class PerStepAgreement(NamedTuple):
    """Arrays over time steps ``t`` of the agreement of ``dL^t/dtheta`` with the reference."""
    cosine: np.ndarray
    relative_error: np.ndarray


def _per_step_matrix(tree) -> np.ndarray:
    leaves = jax.tree.leaves(tree)
    lengths = {np.shape(x)[0] if np.ndim(x) else None for x in leaves}
    if len(lengths) != 1 or None in lengths:
        raise ValueError(f'per-step gradients need a common leading time axis; got leaf shapes '
                         f'{[np.shape(x) for x in leaves]}.')
    T = lengths.pop()
    return np.concatenate([np.asarray(x, dtype=np.float64).reshape(T, -1) for x in leaves], axis=1)


def per_step_agreement(per_step_grads, per_step_reference) -> PerStepAgreement:
    """Cosine and relative error at every step between two per-step gradient dicts.

    Both map parameter keys to pytrees whose leaves have a leading ``T`` axis
    (as returned by ``bptt_grad_per_step`` / ``rtrl_grad_per_step``).

    >>> from braintrace_lab.oracle import bptt_grad_per_step, rtrl_grad_per_step
    >>> step_loss = lambda out, t: loss_fn(out, ys[t])
    >>> bptt_per, _ = bptt_grad_per_step(model, xs, step_loss)
    >>> rtrl_per, _ = rtrl_grad_per_step(model, xs, step_loss)
    >>> cos, rel = per_step_agreement(rtrl_per, bptt_per)    # each shape (T,)
    """
    _check_keys(per_step_grads, per_step_reference, 'per_step_grads')
    keys = list(per_step_reference)
    _pair([per_step_grads[k] for k in keys], [per_step_reference[k] for k in keys])
    A = _per_step_matrix([per_step_grads[k] for k in keys])
    B = _per_step_matrix([per_step_reference[k] for k in keys])
    cos = np.array([_cos(a, b) for a, b in zip(A, B)])
    rel = np.array([_rel(a, b) for a, b in zip(A, B)])
    return PerStepAgreement(cos, rel)
