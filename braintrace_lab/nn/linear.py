"""Dense, sparse and low-rank linear layers built on the ETP ops."""
from __future__ import annotations

from typing import Callable, Optional, Union

import brainstate
import braintools
import brainunit as u
import jax.numpy as jnp
import numpy as np

from ..ops import lora_matmul, matmul, sparse_matmul
from ..ops.sparse import sparse_pattern
from ._base import Layer, as_positive_int, as_size, check_input, init_param, shape_of

__all__ = ['Linear', 'SparseLinear', 'LoRALinear', 'SignedWLinear', 'LoRA']


class _Mask:
    """``w -> w * mask`` inside the op: built once per layer, so every step binds the same op."""

    def __init__(self, mask):
        self.mask = mask

    def __call__(self, w):
        return w * self.mask


class Linear(Layer):
    r"""Fully connected layer through the ETP ``matmul`` op.

    .. math:: y = x (W \odot M) + b, \qquad W \in \mathbb{R}^{n_\mathrm{in} \times n_\mathrm{out}}

    ``brainstate.nn.Linear``'s (and braintrace's) signature and default initializers
    (brainstate's truncated-normal ``KaimingNormal``): ``in_size`` / ``out_size`` are
    ints or tuples agreeing on all but the last axis; ``w_mask`` (an array or initializer
    of shape ``in_size + out_size``) multiplies the weight inside the op. One
    ``ParamState`` ``weight`` holds ``{'weight': W, 'bias': b}`` (no ``'bias'`` with
    ``b_init=None`` or ``use_bias=False``). Initializers may carry units: the output
    unit is ``unit(x) * unit(W)`` and ``b`` must be in that unit.

    >>> layer = Linear(3, 4)
    >>> layer(jnp.ones((2, 3))).shape
    (2, 4)
    >>> Linear(10, 5, w_init=braintools.init.KaimingNormal(unit=u.mA),
    ...        b_init=braintools.init.ZeroInit(unit=u.mA))     # currents in mA
    """

    def __init__(
        self,
        in_size,
        out_size,
        w_init: Union[Callable, 'jnp.ndarray'] = brainstate.nn.init.KaimingNormal(),
        b_init: Optional[Union[Callable, 'jnp.ndarray']] = brainstate.nn.init.ZeroInit(),
        w_mask=None,
        name: Optional[str] = None,
        param_type: type = brainstate.ParamState,
        *,
        use_bias: bool = True,
    ):
        super().__init__(name=name)
        label = type(self).__name__
        in_size = as_size(in_size, 'in_size', label)
        out_size = as_size(out_size, 'out_size', label)
        if in_size[:-1] != out_size[:-1]:
            raise ValueError(f'{label}: in_size {in_size} and out_size {out_size} must agree on all '
                             f'but the last axis.')
        self.in_size = in_size
        self.out_size = out_size
        self.use_bias = bool(use_bias) and b_init is not None
        self.w_mask = None if w_mask is None else init_param(w_mask, in_size + out_size, 'w_mask', label)
        self._mask_fn = None if self.w_mask is None else _Mask(self.w_mask)
        params = {'weight': init_param(w_init, (in_size[-1], out_size[-1]), 'weight', label)}
        if self.use_bias:
            params['bias'] = init_param(b_init, (out_size[-1],), 'bias', label)
        self.weight = param_type(params)

    def update(self, x):
        check_input(type(self).__name__, x, self.in_size)
        params = self.weight.value
        return matmul(x, params['weight'], params.get('bias'), weight_fn=self._mask_fn)


class SparseLinear(Layer):
    r"""Linear layer with a fixed sparse connectivity, through the ETP ``sparse_matmul`` op.

    .. math:: y_j = \sum_{k:\ \mathrm{col}_k = j} x_{\mathrm{row}_k}\, w_k (+ b_j)

    Braintrace's (and ``brainstate.nn.SparseLinear``'s) form takes a sparse matrix:
    ``SparseLinear(spar_mat, b_init=None, in_size=None)``; its data are the initial
    values and its structure (``spar_mat``, kept as ``.spar_mat``) fixes their positions.
    This package's form builds the pattern: ``SparseLinear(in_size, out_size,
    connectivity=...)`` with a boolean ``(in, out)`` mask or a pair ``(rows, cols)``, or
    ``prob=`` drawn from ``seed``; ``w_init`` is evaluated on the dense ``(in, out)``
    shape and gathered at the connections (an array of shape ``(nnz,)`` is taken as the
    values directly). Either way ``ParamState`` ``weight`` holds ``{'weight': values}``
    of shape ``(nnz,)`` (and ``'bias'`` when ``b_init`` is given).

    >>> import brainevent
    >>> mask = np.random.default_rng(0).random((100, 20)) < 0.1
    >>> layer = SparseLinear(brainevent.CSR.fromdense(mask.astype(float)))
    >>> layer = SparseLinear(100, 20, prob=0.1, seed=0)
    >>> layer(jnp.ones((8, 100))).shape
    (8, 20)
    """

    def __init__(self, spar_mat=None, b_init=None, in_size=None, name: Optional[str] = None,
                 param_type: type = brainstate.ParamState, *, out_size=None, connectivity=None,
                 prob: Optional[float] = None, seed: int = 0, w_init=braintools.init.KaimingNormal()):
        super().__init__(name=name)
        label = type(self).__name__
        if hasattr(spar_mat, 'data') and hasattr(spar_mat, 'shape') and hasattr(spar_mat, 'with_data'):
            self._from_matrix(spar_mat, b_init, in_size, param_type, label)
            return
        if spar_mat is not None:      # this package's positional form: SparseLinear(in_size, out_size, ...)
            if in_size is not None:
                raise TypeError(f'{label}: give in_size once.')
            in_size, out_size, b_init = spar_mat, (b_init if out_size is None else out_size), None
        self.spar_mat = None
        n_in, n_out = self._set_vector_sizes(in_size, out_size)
        rows, cols = self._pattern(label, n_in, n_out, connectivity, prob, seed)
        self.rows = jnp.asarray(rows, dtype=jnp.int32)
        self.cols = jnp.asarray(cols, dtype=jnp.int32)
        nnz = int(self.rows.shape[0])
        if isinstance(w_init, (np.ndarray, jnp.ndarray, u.Quantity)) and shape_of(w_init) == (nnz,):
            values = init_param(w_init, (nnz,), 'weight', label)
        else:
            dense = init_param(w_init, (n_in, n_out), 'weight', label)
            values = dense[self.rows, self.cols]
        self.weight = param_type({'weight': values})

    def _from_matrix(self, spar_mat, b_init, in_size, param_type, label):
        rows, cols, shape = sparse_pattern(spar_mat)
        if in_size is not None and as_size(in_size, 'in_size', label)[-1] != shape[0]:
            raise ValueError(f'{label}: in_size {in_size} does not match the {shape} sparse matrix.')
        self.spar_mat = spar_mat
        self.in_size = (int(shape[0]),)
        self.out_size = (int(shape[1]),)
        self.rows = jnp.asarray(rows, dtype=jnp.int32)
        self.cols = jnp.asarray(cols, dtype=jnp.int32)
        params = {'weight': jnp.asarray(spar_mat.data)}
        if b_init is not None:
            params['bias'] = init_param(b_init, self.out_size, 'bias', label)
        self.weight = param_type(params)

    @staticmethod
    def _pattern(label, n_in, n_out, connectivity, prob, seed):
        if (connectivity is None) == (prob is None):
            raise ValueError(f'{label}: give exactly one of connectivity (a boolean (in, out) mask or '
                             f'a pair (rows, cols)) and prob, or a brainevent sparse matrix.')
        if prob is not None:
            if not 0.0 < float(prob) <= 1.0:
                raise ValueError(f'{label}: prob must be in (0, 1], got {prob!r}.')
            mask = np.random.RandomState(int(seed)).rand(n_in, n_out) < float(prob)
            return np.nonzero(mask)
        if isinstance(connectivity, (tuple, list)) and len(connectivity) == 2:
            rows = np.asarray(connectivity[0]).reshape(-1)
            cols = np.asarray(connectivity[1]).reshape(-1)
            if rows.shape != cols.shape:
                raise ValueError(f'{label}: rows {rows.shape} and cols {cols.shape} must have the same length.')
            if rows.size and not (np.issubdtype(rows.dtype, np.integer) and np.issubdtype(cols.dtype, np.integer)):
                raise ValueError(f'{label}: rows and cols must be integer index arrays.')
            if rows.size and (rows.min() < 0 or rows.max() >= n_in or cols.min() < 0 or cols.max() >= n_out):
                raise ValueError(f'{label}: connection indices out of range for a ({n_in}, {n_out}) matrix.')
            return rows, cols
        mask = np.asarray(connectivity)
        if mask.shape != (n_in, n_out):
            raise ValueError(f'{label}: the connectivity mask must have shape ({n_in}, {n_out}), '
                             f'got {mask.shape}.')
        return np.nonzero(mask)

    @property
    def nnz(self) -> int:
        """Number of connections (trainable values)."""
        return int(self.rows.shape[0])

    def to_dense(self):
        """The equivalent dense ``(in, out)`` weight matrix."""
        values = self.weight.value['weight']
        vm, vu = (values.mantissa, values.unit) if isinstance(values, u.Quantity) else (values, None)
        dense = jnp.zeros(self.in_size + self.out_size, vm.dtype).at[self.rows, self.cols].add(vm)
        return dense if vu is None else u.Quantity(dense, unit=vu)

    def update(self, x):
        check_input(type(self).__name__, x, self.in_size)
        p = self.weight.value
        return sparse_matmul(x, p['weight'], self.rows, self.cols, self.out_size[-1], bias=p.get('bias'))



class LoRALinear(Layer):
    r"""Low-rank adapted linear layer through the ETP ``lora_matmul`` op.

    .. math:: y = x W_0 + \alpha\, x A B, \qquad A \in \mathbb{R}^{n_\mathrm{in} \times r},\
              B \in \mathbb{R}^{r \times n_\mathrm{out}}

    ``W_0`` (``base_weight``, optional) is frozen; ``ParamState`` ``weight`` holds
    ``{'lora_a': A, 'lora_b': B}``. With the default ``b_init=ZeroInit()`` the
    layer starts equal to its base (the usual LoRA start).

    >>> layer = LoRALinear(64, 32, rank=4, alpha=0.5, base_weight=jnp.eye(64, 32))
    >>> layer(jnp.ones(64)).shape
    (32,)
    """

    def __init__(
        self,
        in_size,
        out_size,
        rank: int,
        alpha: float = 1.0,
        base_weight=None,
        a_init=braintools.init.KaimingNormal(),
        b_init=braintools.init.ZeroInit(),
        name: Optional[str] = None,
    ):
        super().__init__(name=name)
        label = type(self).__name__
        n_in, n_out = self._set_vector_sizes(in_size, out_size)
        self.rank = as_positive_int(rank, 'rank', label)
        try:
            self.alpha = float(alpha)
        except (TypeError, ValueError) as err:
            raise ValueError(f'{label}: alpha must be a number, got {alpha!r}.') from err
        if base_weight is not None:
            base_weight = init_param(base_weight, (n_in, n_out), 'base_weight', label)
            if shape_of(base_weight) != (n_in, n_out):  # pragma: no cover - init_param broadcasts or raises
                raise ValueError(f'{label}: base_weight must have shape ({n_in}, {n_out}).')
        self.base_weight = base_weight
        self.weight = brainstate.ParamState({
            'lora_a': init_param(a_init, (n_in, self.rank), 'lora_a', label),
            'lora_b': init_param(b_init, (self.rank, n_out), 'lora_b', label),
        })

    def update(self, x):
        check_input(type(self).__name__, x, self.in_size)
        p = self.weight.value
        return lora_matmul(x, p['lora_a'], p['lora_b'], alpha=self.alpha, base_weight=self.base_weight)


class _Signs:
    """``w -> |w| * sign`` (or ``|w|``) inside the op: built once per layer."""

    def __init__(self, sign):
        self.sign = sign

    def __call__(self, w):
        return jnp.abs(w) if self.sign is None else jnp.abs(w) * self.sign


class SignedWLinear(brainstate.nn.SignedWLinear):
    r"""``brainstate.nn.SignedWLinear`` through the ETP ``matmul`` op: ``y = x (|W| \odot s)``.

    The absolute value and the fixed signs ``w_sign`` are applied inside the op, so the
    raw ``W`` is traced (as in braintrace).

    >>> layer = SignedWLinear(3, 4, w_sign=-jnp.ones((3, 4)))
    """
    __array_ufunc__ = None

    def update(self, x):
        fn = self.__dict__.get('_signs_fn')
        if fn is None or fn.sign is not self.w_sign:
            fn = self._signs_fn = _Signs(self.w_sign)
        return matmul(x, self.weight.value, weight_fn=fn)


class LoRA(brainstate.nn.LoRA):
    r"""braintrace's standalone LoRA layer: ``y = x A B / r (+ base_module(x))``.

    ``brainstate.nn.LoRA``'s constructor (``in_features, lora_rank, out_features,
    base_module=, kernel_init=``); ``ParamState`` ``weight`` holds ``{'lora_a': A (in, r),
    'lora_b': B (r, out)}``; the product runs through the ETP ``lora_matmul`` op scaled by
    ``1 / r`` as braintrace scales it. :class:`LoRALinear` is this package's layer with a
    free ``alpha`` and a frozen base weight.

    >>> layer = LoRA(10, 2, 5)
    >>> layer(jnp.ones((4, 10))).shape
    (4, 5)
    """
    __array_ufunc__ = None

    def update(self, x):
        p = self.weight.value
        out = lora_matmul(x, p['lora_a'], p['lora_b'], alpha=1.0 / p['lora_b'].shape[0])
        if self.base_module is not None:
            if not callable(self.base_module):
                raise ValueError('LoRA: base_module must be callable.')
            out = out + self.base_module(x)
        return out

    def __call__(self, *args, **kwargs):
        return self.update(*args, **kwargs)
