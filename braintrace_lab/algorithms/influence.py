"""Approximations of the RTRL influence matrix: SnAp-n (sparse) and UORO (rank one, unbiased).

Both keep the interface of :class:`~.references.RTRL`: a step map ``s^t = F(s^{t-1}, theta)``
over every recurrent leaf, its Jacobians ``J = dF/ds`` and ``I = dF/dtheta`` (the immediate
influence), and a gradient ``dL^t/dtheta|_direct + dL^t/ds^t . M^t`` with ``M`` the rule's
stand-in for the influence matrix ``ds^t/dtheta``.

* **SnAp-n** (Menick et al. 2021): ``M^t = (J^t M^{t-1} + I^t) * S_n``, where the fixed
  pattern ``S_n`` keeps the entries reachable within ``n`` steps of the recurrence from the
  units a parameter touches directly: ``S_1`` = pattern of ``I``, ``S_{k+1} = S_k |
  pattern(|J| S_k)``. Exact once ``n - 1`` reaches the longest path of the connectivity.
  SnAp-1 on a one-state layer whose parameters each drive one unit (a tanh RNN, a leaky
  integrator) is D-RTRL with the coupled per-unit transition (OSTL recurrent); on a GRU's
  weight-through-weight paths or a two-state ALIF the two differ. Here ``M`` is stored dense and masked: a reference
  for the bias of SnAp-n, not for its memory.
* **UORO** (Tallec & Ollivier 2018): ``M ~ s~ (x) theta~``, updated with random signs
  ``nu``: ``s~ <- rho0 J s~ + rho1 nu``, ``theta~ <- theta~ / rho0 + nu^T I / rho1``, with
  ``rho0 = sqrt(|theta~| / |J s~|)`` and ``rho1 = sqrt(|nu^T I| / |nu|)`` (variance
  minimising). ``E[s~ (x) theta~] = M``: the gradient is unbiased, its variance is the
  price. One Jacobian-vector product and one vector-Jacobian product per step: memory
  ``O(N + |theta|)``.

>>> snap = braintrace_lab.compile(model, 'snap', x0, n=2)
>>> uoro = braintrace_lab.compile(model, 'uoro', x0, seed=3)
"""
from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp
import numpy as np

from .references import RTRL

__all__ = ['SnAp', 'UORO', 'snap_pattern']

_EPS = 1e-7


def snap_pattern(J_pattern, I_pattern, n: int) -> np.ndarray:
    """``S_n``: entries ``(unit, parameter)`` reachable from ``I``'s pattern in at most ``n - 1`` steps of ``J``."""
    J = np.asarray(J_pattern, bool).astype(np.int64)
    S = np.asarray(I_pattern, bool)
    for _ in range(n - 1):
        S = S | ((J @ S.astype(np.int64)) > 0)
    return S


def _check_n(n, who):
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f'{who}: n={n!r} must be an integer >= 1 (SnAp-1 keeps the immediate influence, each '
                         f'further step of the recurrence one more ring of units).')
    return int(n)


class SnAp(RTRL):
    """SnAp-n: the influence matrix kept on the units reachable within ``n`` steps (see module doc).

    The pattern is found at compile time from the step's Jacobians at the example
    point and at two random states around it (entries that vanish at all three, such
    as a silent spiking unit's, are dropped).

    >>> learner = SnAp(model, n=2); learner.compile_graph(x0)
    """
    display_name = 'SnAp-n'

    def __init__(self, model, n: int = 1, max_entries: float = 5e7, pattern_seed: int = 0, name=None,
                 vjp_method='single-step', trace_dtype=None):
        self.n = _check_n(n, 'SnAp')
        self.pattern_seed = int(pattern_seed)
        super().__init__(model, max_entries=max_entries, name=name, vjp_method=vjp_method,
                         trace_dtype=trace_dtype)

    def compile_graph(self, *inputs, **kwargs):
        graph = super().compile_graph(*inputs, **kwargs)
        plan = self._plan
        p, h, o = plan.split(plan.read_state_leaves())
        args = self._check_inputs(inputs, kwargs)
        f, p_vec, s_vec = self._step_map(p, h, o, tuple(args))
        key = jax.random.PRNGKey(self.pattern_seed)
        J_any, I_any = None, None
        for k in range(3):
            point = s_vec if k == 0 else s_vec + jax.random.normal(jax.random.fold_in(key, k), s_vec.shape,
                                                                   s_vec.dtype)
            (I, J), _ = jax.jacrev(f, argnums=(0, 1), has_aux=True)(p_vec, point)
            J_any = (J != 0) if J_any is None else J_any | (J != 0)
            I_any = (I != 0) if I_any is None else I_any | (I != 0)
        self.pattern = snap_pattern(np.asarray(J_any), np.asarray(I_any), self.n)
        self._mask = jnp.asarray(self.pattern, self.etrace.value['influence'].dtype)
        return graph

    def mask_influence(self, M):
        return M * self._mask

    @property
    def kept_fraction(self) -> float:
        """Share of the influence matrix SnAp-n keeps (1.0: exact RTRL)."""
        return float(self.pattern.mean())


class UORO(RTRL):
    """UORO: an unbiased rank-one estimate of the influence matrix (see module doc).

    ``seed`` fixes the random signs; a reset (``init_all_states`` and friends) restarts
    their stream, so the same seed on the same data gives the same gradient.

    >>> learner = UORO(model, seed=0); learner.compile_graph(x0)
    """
    display_name = 'UORO'

    def __init__(self, model, seed: int = 0, name=None, vjp_method='single-step', trace_dtype=None):
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TypeError(f'UORO: seed must be an int, got {seed!r}.')
        self.seed = int(seed)
        super().__init__(model, max_entries=float('inf'), name=name, vjp_method=vjp_method,
                         trace_dtype=trace_dtype)

    def init_influence(self, H, P, dtype):
        return {'s': jnp.zeros((H,), dtype), 'theta': jnp.zeros((P,), dtype),
                'key': jax.random.key_data(jax.random.PRNGKey(self.seed))}

    def influence_update(self, f, p_vec, s_vec, traces):
        s_t, th_t = traces['s'], traces['theta']
        key, sub = jax.random.split(jax.random.wrap_key_data(traces['key']))
        new_s, vjp_p, aux = jax.vjp(lambda pv: f(pv, s_vec), p_vec, has_aux=True)
        Js = jax.jvp(lambda sv: f(p_vec, sv)[0], (s_vec,), (s_t.astype(s_vec.dtype),))[1]
        nu = jax.random.rademacher(sub, new_s.shape, dtype=s_t.dtype)
        (nuI,) = vjp_p(nu.astype(new_s.dtype))
        Js, nuI = Js.astype(s_t.dtype), nuI.astype(th_t.dtype)
        rho0 = jnp.sqrt((jnp.linalg.norm(th_t) + _EPS) / (jnp.linalg.norm(Js) + _EPS))
        rho1 = jnp.sqrt((jnp.linalg.norm(nuI) + _EPS) / (jnp.linalg.norm(nu) + _EPS))
        new = {'s': rho0 * Js + rho1 * nu, 'theta': th_t / rho0 + nuI / rho1, 'key': jax.random.key_data(key)}
        return new, aux

    def influence_grad(self, g_vec, traces):
        s_t = traces['s']
        return jnp.dot(g_vec.astype(s_t.dtype), s_t) * traces['theta']

    def trace_memory(self):
        """Bytes of the two UORO vectors, shared out over the parameters in proportion to their size."""
        self._require()
        item = self.etrace.value['theta'].dtype.itemsize
        total = (self._H + self._P) * item
        return {path: int(round(total * size / self._P)) for path, size in self._sizes.items()}
