"""The ETP op's forward-mode rule: derivatives only in the operands that carry a tangent."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax.extend.core import Var, jaxprs_in_params

from braintrace_lab.ops import matmul, sparse_matmul


def _dots(jaxpr):
    """Live ``dot_general`` equations of a jaxpr and of the jaxprs nested in it (an unused result is dead code)."""
    used = {v for e in jaxpr.eqns for v in e.invars if isinstance(v, Var)}
    used |= {v for v in jaxpr.outvars if isinstance(v, Var)}
    count = 0
    for eqn in jaxpr.eqns:
        count += eqn.primitive.name == 'dot_general' and eqn.outvars[0] in used
        for sub in jaxprs_in_params(eqn.params):
            count += _dots(sub)
    return count


def _tangent_dots(fn, *primals_and_tangents):
    n = len(primals_and_tangents) // 2
    closed = jax.make_jaxpr(lambda *a: jax.jvp(fn, a[:n], a[n:]))(*primals_and_tangents)
    return _dots(closed.jaxpr)


@pytest.fixture
def operands():
    k1, k2, k3, k4 = jax.random.split(jax.random.PRNGKey(0), 4)
    x, w = jax.random.normal(k1, (5, 3)), jax.random.normal(k2, (3, 4))
    dx, dw = jax.random.normal(k3, (5, 3)), jax.random.normal(k4, (3, 4))
    return x, w, dx, dw


def test_a_jvp_in_the_input_only_multiplies_the_input_tangent(operands):
    """The weight is closed over (a symbolic-zero tangent): one product ``dx @ W``, none with a zero weight tangent."""
    x, w, dx, _ = operands
    out, t = jax.jvp(lambda a: matmul(a, w), (x,), (dx,))
    np.testing.assert_allclose(out, x @ w, rtol=1e-6)
    np.testing.assert_allclose(t, dx @ w, rtol=1e-6)
    assert _tangent_dots(lambda a: matmul(a, w), x, dx) == 1


def test_a_jvp_in_the_weight_only_and_in_both(operands):
    x, w, dx, dw = operands
    _, t_w = jax.jvp(lambda b: matmul(x, b), (w,), (dw,))
    np.testing.assert_allclose(t_w, x @ dw, rtol=1e-6)
    assert _tangent_dots(lambda b: matmul(x, b), w, dw) == 1
    _, t_both = jax.jvp(matmul, (x, w), (dx, dw))
    np.testing.assert_allclose(t_both, dx @ w + x @ dw, rtol=1e-6)
    assert _tangent_dots(matmul, x, w, dx, dw) == 2


def test_reverse_mode_through_a_partly_constant_op_is_unchanged(operands):
    """``grad`` linearises through the same rule: the weight gradient of a loss with a constant input."""
    x, w, _, _ = operands
    b = jnp.arange(4.0)
    g_w, g_b = jax.grad(lambda ww, bb: jnp.sum(jnp.tanh(matmul(x, ww, bb)) ** 2), argnums=(0, 1))(w, b)
    y = jnp.tanh(x @ w + b)
    dy = 2 * y * (1 - y ** 2)
    np.testing.assert_allclose(g_w, x.T @ dy, rtol=1e-5)
    np.testing.assert_allclose(g_b, dy.sum(0), rtol=1e-5)
    g_x = jax.grad(lambda a: jnp.sum(matmul(a, w) ** 2))(x)
    np.testing.assert_allclose(g_x, 2 * (x @ w) @ w.T, rtol=1e-5)


def test_second_order_and_vmap_still_work(operands):
    """A JVP of a JVP (the rule's own tangent is differentiated again) and a batched JVP."""
    x, w, dx, _ = operands
    hvp = jax.jvp(lambda a: jax.jvp(lambda b: jnp.sum(matmul(b, w) ** 2), (a,), (dx,))[1], (x,), (dx,))[1]
    np.testing.assert_allclose(hvp, 2 * jnp.sum((dx @ w) ** 2), rtol=1e-5)
    batched = jax.vmap(lambda a, da: jax.jvp(lambda b: matmul(b, w), (a,), (da,))[1])(x[:, None], dx[:, None])
    np.testing.assert_allclose(batched[:, 0], dx @ w, rtol=1e-6)


def test_an_integer_operand_gets_no_tangent():
    """Integer operands (a sparse matrix's row and column indices) stay constants of the tangent computation."""
    rows, cols = jnp.array([0, 1, 2, 2]), jnp.array([1, 0, 2, 3])
    vals, dvals = jnp.array([1.0, -2.0, 0.5, 3.0]), jnp.array([0.1, 0.2, 0.3, 0.4])
    x, dx = jnp.arange(6.0).reshape(2, 3), jnp.ones((2, 3))
    dense = lambda v: jnp.zeros((3, 4)).at[rows, cols].add(v)
    _, t = jax.jvp(lambda xx, v: sparse_matmul(xx, v, rows, cols, 4), (x, vals), (dx, dvals))
    np.testing.assert_allclose(t, dx @ dense(vals) + x @ dense(dvals), rtol=1e-6)
    _, t_v = jax.jvp(lambda v: sparse_matmul(x, v, rows, cols, 4), (vals,), (dvals,))
    np.testing.assert_allclose(t_v, x @ dense(dvals), rtol=1e-6)
