"""KF-RTRL (Mujika, Meier & Steger 2018): a Kronecker-factored, unbiased rank-one influence estimate.

For a weight matrix ``W`` (``I x O``) read as ``a = z W`` the immediate influence of one
step is a Kronecker product, ``dh/dW_ij = z_i D_(:, j)`` with ``D = dh/da`` (``N x O``), and
KF-RTRL keeps the weight's influence matrix in the same form, ``M_W ~ u (x) A`` with
``u`` (``I``) and ``A`` (``N x O``). Each step mixes the carried product and the new one with
two random signs ``c1, c2``:

.. math::  u \\leftarrow c_1 \\rho_1 u + c_2 \\rho_2 z, \\qquad A \\leftarrow c_1 J A / \\rho_1 + c_2 D / \\rho_2,

``rho1 = sqrt(|J A| / |u|)``, ``rho2 = sqrt(|D| / |z|)`` (variance minimising). ``E[c1 c2] =
0`` leaves ``E[u (x) A] = u (x) J A + z (x) D``: RTRL's recursion, so the gradient
``u (x) (dL/dh A)`` is unbiased; its variance is far lower than UORO's, which folds every
parameter into one vector. Memory per matrix ``I + N O`` (RTRL: ``N I O``).

Here ``z`` and ``D`` are read off the step's immediate influence (its leading singular pair,
exact when the weight enters once through a matmul on one sample, the setting of the
paper; a batch of several samples, or a weight used twice, makes it rank > 1 and this a
truncation). Parameters that are not matrices (biases, kernels) keep their exact
influence ``N x size``. The immediate influence is found by reverse-mode Jacobians, as in
:class:`~.references.RTRL`: a reference for the bias and variance, not for speed.

>>> learner = braintrace_lab.compile(model, 'kf_rtrl', x0, seed=0)
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .influence import SeededInfluence
from .rules import kf_rtrl

__all__ = ['KFRTRL']

_EPS = 1e-7


class KFRTRL(SeededInfluence):
    """KF-RTRL: each weight matrix's influence kept as a random rank-one Kronecker product (see module doc).

    ``seed`` fixes the random signs; a reset restarts their stream.

    >>> learner = KFRTRL(model, seed=0); learner.compile_graph(x0)
    """
    display_name = 'KF-RTRL'
    preset = staticmethod(kf_rtrl)

    def _layout(self):
        """``[(offset, shape)]`` of every parameter leaf in the flat parameter vector."""
        plan = self._plan
        out, off = [], 0
        for n in plan.param_ids:
            shape = tuple(plan.leaves[n].invar.aval.shape)
            out.append((off, shape))
            off += int(np.prod(shape, dtype=int))
        return out

    def init_influence(self, H, P, dtype):
        factors, exact = [], []
        for _, shape in self._layout():
            if len(shape) == 2:
                factors.append({'u': jnp.zeros((shape[0],), dtype), 'A': jnp.zeros((H, shape[1]), dtype)})
            else:
                exact.append(jnp.zeros((H, int(np.prod(shape, dtype=int))), dtype))
        return {'factors': tuple(factors), 'exact': tuple(exact),
                'key': jax.random.key_data(jax.random.PRNGKey(self.seed))}

    def influence_update(self, f, p_vec, s_vec, traces):
        (I, J), aux = jax.jacrev(f, argnums=(0, 1), has_aux=True)(p_vec, s_vec)
        key, sub = jax.random.split(jax.random.wrap_key_data(traces['key']))
        signs = jax.random.rademacher(sub, (max(len(traces['factors']), 1), 2), dtype=J.dtype)
        H = J.shape[0]
        factors, exact = [], []
        fi = ei = 0
        for off, shape in self._layout():
            size = int(np.prod(shape, dtype=int))
            I_leaf = I[:, off:off + size]
            if len(shape) != 2:
                M = traces['exact'][ei]
                exact.append(J.astype(M.dtype) @ M + I_leaf.astype(M.dtype))
                ei += 1
                continue
            u, A = traces['factors'][fi]['u'], traces['factors'][fi]['A']
            n_in, n_out = shape
            # the immediate influence as (I) x (N O): its leading singular pair is z (x) D
            K = I_leaf.reshape(H, n_in, n_out).transpose(1, 0, 2).reshape(n_in, H * n_out).astype(A.dtype)
            U, S, Vt = jnp.linalg.svd(K, full_matrices=False)
            root = jnp.sqrt(S[0])
            z, D = U[:, 0] * root, (Vt[0] * root).reshape(H, n_out)
            JA = J.astype(A.dtype) @ A
            rho1 = jnp.sqrt((jnp.linalg.norm(JA) + _EPS) / (jnp.linalg.norm(u) + _EPS))
            rho2 = jnp.sqrt((jnp.linalg.norm(D) + _EPS) / (jnp.linalg.norm(z) + _EPS))
            c1, c2 = signs[fi, 0].astype(A.dtype), signs[fi, 1].astype(A.dtype)
            factors.append({'u': c1 * rho1 * u + c2 * rho2 * z, 'A': c1 * JA / rho1 + c2 * D / rho2})
            fi += 1
        new = {'factors': tuple(factors), 'exact': tuple(exact), 'key': jax.random.key_data(key)}
        return new, aux

    def influence_grad(self, g_vec, traces):
        parts, fi, ei = [], 0, 0
        for _, shape in self._layout():
            if len(shape) == 2:
                u, A = traces['factors'][fi]['u'], traces['factors'][fi]['A']
                parts.append(jnp.outer(u, g_vec.astype(A.dtype) @ A).ravel())
                fi += 1
            else:
                M = traces['exact'][ei]
                parts.append(g_vec.astype(M.dtype) @ M)
                ei += 1
        return jnp.concatenate(parts) if parts else jnp.zeros((0,), g_vec.dtype)

    def trace_memory(self):
        """Bytes per parameter path: ``I + N O`` for a matrix's two factors, ``N x size`` for other leaves."""
        self._require()
        plan, out = self._plan, {}
        item = jnp.dtype(self.etrace.value['key'].dtype).itemsize
        for leaves in (self.etrace.value['factors'], self.etrace.value['exact']):
            if jax.tree.leaves(leaves):
                item = jax.tree.leaves(leaves)[0].dtype.itemsize
                break
        for n, (_, shape) in zip(plan.param_ids, self._layout()):
            path = plan.leaves[n].state_path
            size = shape[0] + self._H * shape[1] if len(shape) == 2 else self._H * int(np.prod(shape, dtype=int))
            out[path] = out.get(path, 0) + size * item
        return out
