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
  for the bias of SnAp-n, not for its memory. SnAp-1 on a model where the two are equal
  (one state per unit, every traced weight a dense matmul feeding the state directly, no
  other state written) runs on the OSTL-recurrent engine instead (``engine='auto'``, the
  default; ``engine='dense'`` keeps the masked matrix): the same numbers at D-RTRL's cost.
* **UORO** (Tallec & Ollivier 2018): ``M ~ s~ (x) theta~``, updated with random signs
  ``nu``: ``s~ <- rho0 J s~ + rho1 nu``, ``theta~ <- theta~ / rho0 + nu^T I / rho1``, with
  ``rho0 = sqrt(|theta~| / |J s~|)`` and ``rho1 = sqrt(|nu^T I| / |nu|)`` (variance
  minimising). ``E[s~ (x) theta~] = M``: the gradient is unbiased, its variance is the
  price. One Jacobian-vector product in the states and one vector-Jacobian product in the
  weights per step, taken on the weights and states themselves inside the jitted step:
  memory ``O(N + |theta|)``; where the time goes is in ``BENCHMARKS.md``.

>>> snap = braintrace_lab.compile(model, 'snap', x0, n=2)
>>> uoro = braintrace_lab.compile(model, 'uoro', x0, seed=3)
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..compiler.graph import compile_program
from .base import ETraceAlgorithm
from .engines import ParamDimEngine
from .references import RTRL
from .rules import snap, uoro
from .step import StepPlan

__all__ = ['SnAp', 'UORO', 'random_signs', 'snap_pattern']

_EPS = 1e-7


def random_signs(key, shape, dtype=jnp.float32):
    """Independent fair signs (+1 or -1) of ``shape``: 32 per word of ``jax.random.bits``.

    ``jax.random.rademacher`` draws one 32-bit word per sign; each bit of a uniform word is
    itself a fair coin, so one word gives 32 signs. UORO draws one sign per state and step,
    and on a CPU the generator, not the arithmetic, was the larger part of that cost.

    >>> s = random_signs(jax.random.PRNGKey(0), (4, 25))
    >>> s.shape, bool(jnp.all(jnp.abs(s) == 1))
    ((4, 25), True)
    """
    n = int(np.prod(shape, dtype=int))
    words = jax.random.bits(key, (-(-n // 32),), jnp.uint32)
    bits = (words[:, None] >> jnp.arange(32, dtype=jnp.uint32)) & 1
    return (bits.reshape(-1)[:n].astype(dtype) * 2 - 1).reshape(shape)


def snap_pattern(J_pattern, I_pattern, n: int) -> np.ndarray:
    """``S_n``: entries ``(unit, parameter)`` reachable from ``I``'s pattern in at most ``n - 1`` steps of ``J``."""
    J = np.asarray(J_pattern, bool).astype(np.int64)
    S = np.asarray(I_pattern, bool)
    for _ in range(n - 1):
        S = S | ((J @ S.astype(np.int64)) > 0)
    return S


def ostl_equals_snap1(plan) -> bool:
    """Whether SnAp-1 equals OSTL recurrent on this compiled step: one state per unit, each traced weight
    a dense matmul that feeds its group directly, no weight-through-weight path, no other state written."""
    others_written = any(plan.leaves[n].write_pos is not None for n in plan.other_ids)
    return (bool(plan.relations) and all(len(g) == 1 for g in plan.groups) and plan.direct_weights
            and all(r.rule.kind == 'matmul' and r.rule.family == 'dense' for r in plan.relations)
            and not plan.immediate_params and not plan.mixing_groups and not plan.feeding_groups
            and not others_written)


class SnAp(RTRL):
    """SnAp-n: the influence matrix kept on the units reachable within ``n`` steps (see module doc).

    The pattern is found at compile time from the step's Jacobians at the example
    point and at two random states around it (entries that vanish at all three, such
    as a silent spiking unit's, are dropped).

    >>> learner = SnAp(model, n=2); learner.compile_graph(x0)
    """
    display_name = 'SnAp-n'

    def __init__(self, model, n: int = 1, max_entries: float = 5e7, pattern_seed: int = 0, engine: str = 'auto',
                 name=None, vjp_method='single-step', trace_dtype=None):
        self.rule = snap(n, engine, pattern_seed, max_entries)       # checks the options
        self.n, self.pattern_seed, self.engine = self.rule.trace.n, self.rule.trace.pattern_seed, self.rule.trace.engine
        self.on_ostl = False
        self._pattern = None
        super().__init__(model, max_entries=max_entries, name=name, vjp_method=vjp_method,
                         trace_dtype=trace_dtype)

    # SnAp-1 dispatched to the OSTL-recurrent engine: the base engine's step, trace and memory
    def make_engine(self, relation):
        return ParamDimEngine(dtype=self.trace_dtype)

    def _build_step(self, summed: bool = False, **modes):
        if self.on_ostl:
            return ETraceAlgorithm._build_step(self, summed=summed, **modes)
        return super()._build_step()

    def trace_memory(self):
        if self.on_ostl:
            return ETraceAlgorithm.trace_memory(self)
        return super().trace_memory()

    def compile_graph(self, *inputs, **kwargs):
        self._example = (inputs, kwargs)
        if self.n == 1 and self.engine == 'auto':
            if ostl_equals_snap1(StepPlan(compile_program(self.model, *inputs, **kwargs))):
                self.on_ostl = True
                self.coupled_transition, self.batch_totals, self.defers_products = True, True, True
                return ETraceAlgorithm.compile_graph(self, *inputs, **kwargs)
        self.on_ostl = False
        for name in ('coupled_transition', 'batch_totals', 'defers_products'):
            self.__dict__.pop(name, None)
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
        self._pattern = snap_pattern(np.asarray(J_any), np.asarray(I_any), self.n)
        self._mask = jnp.asarray(self._pattern, self.etrace.value['influence'].dtype)
        return graph

    def mask_influence(self, M):
        return M * self._mask

    @property
    def pattern(self) -> np.ndarray:
        """``S_n`` as a ``(states, parameters)`` boolean array (found by a dense twin when on the OSTL engine)."""
        self._require()
        if self._pattern is None:
            twin = SnAp(self.model, n=self.n, pattern_seed=self.pattern_seed, engine='dense')
            twin.compile_graph(*self._example[0], **self._example[1])
            self._pattern = twin.pattern
        return self._pattern

    @property
    def kept_fraction(self) -> float:
        """Share of the influence matrix SnAp-n keeps (1.0: exact RTRL)."""
        return float(self.pattern.mean())


def _split(vec, like):
    """``vec`` cut into consecutive pieces shaped (and typed) like the leaves of the tuple ``like``."""
    out, off = [], 0
    for a in like:
        n = int(np.prod(a.shape, dtype=int))
        out.append(vec[off:off + n].reshape(a.shape).astype(a.dtype))
        off += n
    return tuple(out)


def _join(leaves, dtype):
    """The leaves raveled end to end, in ``dtype``: the flat layout the UORO vectors are kept in."""
    if not leaves:
        return jnp.zeros((0,), dtype)
    return jnp.concatenate([jnp.ravel(a).astype(dtype) for a in leaves])


class SeededInfluence(RTRL):
    """Base of the random influence estimates (UORO, KF-RTRL): a ``seed`` for their random signs, no size limit;
    ``preset`` is the rule's preset function (it checks the seed)."""
    preset = None

    def __init__(self, model, seed: int = 0, name=None, vjp_method='single-step', trace_dtype=None):
        self.rule = type(self).preset(seed)
        self.seed = self.rule.trace.seed
        super().__init__(model, max_entries=float('inf'), name=name, vjp_method=vjp_method,
                         trace_dtype=trace_dtype)


class UORO(SeededInfluence):
    """UORO: an unbiased rank-one estimate of the influence matrix (see module doc).

    ``seed`` fixes the random signs; a reset (``init_all_states`` and friends) restarts
    their stream, so the same seed on the same data gives the same gradient.

    >>> learner = UORO(model, seed=0); learner.compile_graph(x0)
    """
    display_name = 'UORO'
    preset = staticmethod(uoro)
    tree_influence = True     # the step works on the weights and states themselves, no flat copies

    def init_influence(self, H, P, dtype):
        return {'s': jnp.zeros((H,), dtype), 'theta': jnp.zeros((P,), dtype),
                'key': jax.random.key_data(jax.random.PRNGKey(self.seed))}

    def influence_update_tree(self, f, p, s, traces):
        """One UORO step on per-leaf tuples: a JVP in the states and a VJP in the weights of the same
        step (one jit, the forward pass shared), the two UORO vectors updated in place of the matrix."""
        s_t, th_t = traces['s'], traces['theta']
        key, sub = jax.random.split(jax.random.wrap_key_data(traces['key']))
        new_s, vjp_p, aux = jax.vjp(lambda pp: f(pp, s), p, has_aux=True)
        Js = jax.jvp(lambda ss: f(p, ss)[0], (s,), (_split(s_t, s),))[1]
        nu = random_signs(sub, s_t.shape, s_t.dtype)
        nuI = vjp_p(_split(nu, new_s))[0]
        Js, nuI = _join(Js, s_t.dtype), _join(nuI, th_t.dtype)
        nu_norm = jnp.sqrt(jnp.asarray(nu.size, nu.dtype))      # |nu| = sqrt(H) exactly for random signs
        rho0 = jnp.sqrt((jnp.linalg.norm(th_t) + _EPS) / (jnp.linalg.norm(Js) + _EPS))
        rho1 = jnp.sqrt((jnp.linalg.norm(nuI) + _EPS) / (nu_norm + _EPS))
        # multiply by the reciprocals: two |theta|-long divisions cost more than the rest of the update
        theta = th_t * (1 / rho0) + nuI * (1 / rho1)
        new = {'s': rho0 * Js + rho1 * nu, 'theta': theta, 'key': jax.random.key_data(key)}
        return new, aux

    def influence_grad_tree(self, g_vec, traces, p):
        """``(dL/ds . s~) theta~``, cut into the weights' shapes."""
        s_t = traces['s']
        # the barrier keeps the N-long dot product out of the |theta|-long product's fused loop
        # (XLA's CPU fusion otherwise folds it in: 7.6x instead of 8.2-9.2x the forward pass at H=256)
        scale = jax.lax.optimization_barrier(jnp.dot(g_vec.astype(s_t.dtype), s_t))
        return _split(scale * traces['theta'], p)

    def trace_memory(self):
        """Bytes of the two UORO vectors, shared out over the parameters in proportion to their size."""
        self._require()
        item = self.etrace.value['theta'].dtype.itemsize
        total = (self._H + self._P) * item
        return {path: int(round(total * size / self._P)) for path, size in self._sizes.items()}
