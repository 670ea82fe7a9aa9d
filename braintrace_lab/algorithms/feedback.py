"""Learning signals that do not come from the readout's transpose: random feedback, target projection.

Two helpers for the SNN rules, plus the graph queries they need:

* :class:`FixedRandomFeedback` (e-prop's random feedback, feedback alignment): for a
  readout ``y = x W`` backprop sends ``dL/dx = dL/dy W^T`` to the readout input;
  here ``W^T`` is replaced by a frozen random ``B^T`` (``B`` shaped like ``W``,
  ``(I, O)``), so the hidden signal is ``dL/dh = (dx/dh) . (dL/dy B^T)``: the
  readout's own gradient ``x^T dL/dy`` is unchanged, and the local derivative of
  what the hidden group emits (a spike's surrogate derivative) is kept.
* :class:`TargetProjection` (OSTTP): the signal of each hidden leaf that is not
  itself an output is ``L = y* P``, a fixed random projection ``P (K, N)`` of the
  target ``y* (..., K)``, with no backpropagation across layers.

A *readout op* is an ETP op whose output reaches a model output through no other
ETP op; an *output group* is a hidden group whose new value reaches a model output
through no ETP op (a leaky readout's ``r``); output groups keep their exact signal.

>>> fb = FixedRandomFeedback.random(64, 10, seed=0)     # B of shape (64, 10)
>>> fb(jnp.ones(10)).shape                                # dL/dy B^T
(64,)
"""
from __future__ import annotations

from typing import Dict, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import CompilationError
from ..ops._primitive import etp_op_p

__all__ = ['FixedRandomFeedback', 'TargetProjection', 'readout_ops', 'output_groups', 'FeedbackPlan']


def readout_ops(plan) -> list:
    """Indices of the ETP ops that read hidden states out to a model output (through no other ETP op)."""
    return list(plan.program.readout_ops)


def output_groups(plan) -> set:
    """Hidden groups whose new value reaches a model output through no ETP op."""
    return set(plan.program.output_groups)


def _braintrace_draw(n_target, n_layer, key, init_scale):
    """``B (n_target, n_layer)`` drawn as braintrace draws it, returned transposed (readout inputs first)."""
    import brainstate
    for name, n in (('n_target', n_target), ('n_layer', n_layer)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise TypeError(f'FixedRandomFeedback(n_target, n_layer, key): {name} must be a positive integer, '
                            f'got {n!r}; or pass one matrix, FixedRandomFeedback(B) with B (readout inputs, '
                            f'readout outputs).')
    if key is None:
        raise TypeError('FixedRandomFeedback(n_target, n_layer, key) needs a key, e.g. brainstate.random.split_key().')
    B = init_scale * brainstate.random.normal(size=(int(n_target), int(n_layer)), key=key)
    return np.asarray(B).T


class FixedRandomFeedback:
    """A frozen random feedback matrix ``B (I, O)`` that stands in for a readout weight's transpose.

    Math: readout ``y = x W``; the signal sent to its input is ``dL/dx = dL/dy B^T``
    instead of ``dL/dy W^T``. ``B`` is drawn once, ``N(0, scale^2)`` with
    ``scale = 1/sqrt(I)`` by default, from a NumPy seed (a constant, never a tracer).

    braintrace's form ``FixedRandomFeedback(n_target, n_layer, key, init_scale=0.1)`` draws
    its ``B (n_target, n_layer)`` as braintrace does (the transpose of this class's
    matrix) and has braintrace's ``.B`` and ``.project(y) = y B``.

    >>> fb = FixedRandomFeedback.random(6, 2, seed=1)     # the readout's inputs and outputs
    >>> learner = braintrace_lab.EProp(model, feedback=fb)   # or feedback='random', feedback_seed=1
    """

    def __init__(self, matrix, n_layer=None, key=None, init_scale: float = 0.1):
        if n_layer is not None or key is not None:
            matrix = _braintrace_draw(matrix, n_layer, key, init_scale)
        m = np.asarray(matrix)
        if m.ndim != 2 or not np.issubdtype(m.dtype, np.floating):
            raise ValueError(f'FixedRandomFeedback needs a 2-D float matrix (readout inputs, readout '
                             f'outputs), got shape {m.shape} and dtype {m.dtype}.')
        self.matrix = m

    @classmethod
    def random(cls, n_in: int, n_out: int, seed: int = 0, scale=None, dtype=np.float32):
        """Draw ``B`` of shape ``(n_in, n_out)`` with entries ``N(0, scale^2)``."""
        scale = 1.0 / np.sqrt(n_in) if scale is None else float(scale)
        rng = np.random.default_rng(seed)
        return cls((rng.standard_normal((n_in, n_out)) * scale).astype(dtype))

    @property
    def shape(self):
        return self.matrix.shape

    @property
    def B(self):
        """braintrace's ``B (n_target, n_layer)``: this matrix transposed."""
        return jnp.asarray(self.matrix.T)

    @property
    def n_target(self) -> int:
        return int(self.matrix.shape[1])

    @property
    def n_layer(self) -> int:
        return int(self.matrix.shape[0])

    def project(self, y_target):
        """braintrace's projection of a target onto the layer: ``y B``."""
        return jnp.matmul(y_target, self.B.astype(jnp.result_type(y_target)))

    def __call__(self, cot):
        """The feedback ``dL/dy B^T`` for an output cotangent ``(..., O)``."""
        return jnp.matmul(cot, jnp.asarray(self.matrix, jnp.result_type(cot)).T)

    def path(self, x):
        """``x B`` with ``B`` frozen: a forward path whose transpose is the feedback."""
        return jnp.matmul(x, jax.lax.stop_gradient(jnp.asarray(self.matrix, jnp.result_type(x))))

    def check(self, op_index: int, weight_shape, who: str):
        if tuple(self.matrix.shape) != tuple(weight_shape):
            raise CompilationError(
                f'{who}: the random feedback matrix has shape {tuple(self.matrix.shape)}, but the readout '
                f'(ETP op {op_index}) has weight shape {tuple(weight_shape)}: B must be (readout inputs, '
                f'readout outputs) = {tuple(weight_shape)}. Build it with FixedRandomFeedback.random'
                f'({weight_shape[0]}, {weight_shape[1]}), or pass feedback="random".')

    def __repr__(self):
        return f'FixedRandomFeedback(shape={self.matrix.shape})'


def build_feedback(plan, feedback, seed: int, who: str) -> Dict[int, FixedRandomFeedback]:
    """One :class:`FixedRandomFeedback` per dense readout op (validated against its weight shape)."""
    ops = readout_ops(plan)
    if not ops:
        raise CompilationError(f'{who}: random feedback replaces the transpose of a readout, but no ETP op '
                               f'reads the hidden states out to the model output (the output is a hidden '
                               f'state itself, or plain JAX reads it out, e.g. spike @ w_out). Read the output '
                               f"through braintrace_lab.matmul / braintrace_lab.nn.Linear, or use feedback='symmetric'.")
    out = {}
    for j, k in enumerate(ops):
        op = plan.ops[k]
        if op.kind != 'matmul':
            raise CompilationError(f'{who}: random feedback supports dense matmul readouts; readout op {k} '
                                   f'is a {op.kind!r} op. Use feedback="symmetric" for this model.')
        wshape = tuple(op.input_avals[op.spec.n_inputs].shape)
        if isinstance(feedback, str):
            fb = FixedRandomFeedback.random(wshape[0], wshape[1], seed=seed + j,
                                            dtype=np.dtype(op.output_avals[0].dtype))
        else:
            if len(ops) > 1:
                raise CompilationError(f'{who}: one feedback matrix was given but the model has {len(ops)} '
                                       f'readout ops ({ops}); pass feedback="random" to draw one per readout.')
            fb = feedback if isinstance(feedback, FixedRandomFeedback) else FixedRandomFeedback(feedback)
        fb.check(k, wshape, who)
        out[k] = fb
    return out


class FeedbackPlan:
    """A :class:`StepPlan` view whose ``run_signal`` sends readout-input cotangents through ``B^T``.

    On each readout op output ``y = x W`` the value is kept and the derivative is
    rebuilt as ``d/dW`` exact plus ``d/dx`` through ``x B``: ``sg(y) + (sg(x) W -
    sg(.)) + (x B - sg(.))``. Everything else is delegated to the wrapped plan.
    """

    def __init__(self, plan, feedback: Dict[int, FixedRandomFeedback]):
        self._plan = plan
        self._feedback = feedback
        self._outvar_op = {plan.ops[k].eqn.outvars[0]: k for k in feedback}

    def __getattr__(self, name):
        return getattr(self._plan, name)

    def _rewire(self, k, invals, val):
        sg = jax.lax.stop_gradient
        eqn = self._plan.ops[k].eqn
        through_w = etp_op_p.bind(sg(invals[0]), *invals[1:], **eqn.params)
        fb = self._feedback[k].path(invals[0]).astype(val.dtype)
        return sg(val) + (through_w - sg(through_w)) + (fb - sg(fb))

    def _hook(self, v, val, record):
        k = self._outvar_op.get(v)
        return val if k is None else self._rewire(k, record[k][0], val)

    def run_signal(self, p, e, h, o, args):
        return self._plan.run_signal(p, e, h, o, args, value_hook=self._hook)


class TargetProjection:
    """Fixed random projections ``L_i = y* P_i`` of the target, one per projected hidden leaf.

    ``P_i`` has shape ``(K, N_i)`` (``K = target_shape[-1]``, ``N_i`` the leaf's last
    axis), entries ``N(0, 1/K)`` from NumPy seed ``seed + i``; the result is
    broadcast to the leaf's shape (leading target axes must broadcast against it).

    OSTTP builds one per projected group from its compiled plan,
    ``TargetProjection(plan, target_shape=(10,), leaves=[0], seed=0, who='OSTTP')``, and asks it
    for a leaf's signal with ``proj.signal(0, y_star, like=g[0])``.
    """

    def __init__(self, plan, target_shape: Sequence[int], leaves: Sequence[int], seed: int, who: str):
        self.target_shape = tuple(int(s) for s in target_shape)
        K = self.target_shape[-1]
        self.matrices = {}
        for i in leaves:
            leaf = plan.leaves[plan.hidden_ids[i]]
            shape = tuple(leaf.aval.shape)
            want = self.target_shape[:-1] + (shape[-1],) if shape else None
            try:
                ok = want is not None and tuple(np.broadcast_shapes(want, shape)) == shape
            except ValueError:
                ok = False
            if not ok:
                raise CompilationError(
                    f'{who}: the target of shape {self.target_shape} cannot be projected onto hidden state '
                    f'{leaf.path!r} of shape {shape}: y* P has shape {want}, which must broadcast to the '
                    f'state. Give target_shape as the shape of y* for one call, e.g. ({K},) per sample or '
                    f'(batch, {K}) for a batched model.')
            rng = np.random.default_rng(seed + i)
            mat = rng.standard_normal((K, shape[-1])) / np.sqrt(K)
            self.matrices[i] = mat.astype(np.dtype(leaf.aval.dtype))

    def signal(self, i, target, like):
        m = jnp.asarray(self.matrices[i], like.dtype)
        return jnp.broadcast_to(jnp.matmul(target.astype(like.dtype), m), like.shape)
