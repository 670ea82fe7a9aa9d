"""braintrace's ``einsum`` and ``embedding`` through both packages: equal values, equal
gradients under D-RTRL and ES-D-RTRL, and the einsums served here (docs/compatibility.md, row 20)."""
import brainstate
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab
from test_braintrace_compat import _leaves, assert_same, both, real

pytestmark = pytest.mark.filterwarnings('ignore::UserWarning', 'ignore::DeprecationWarning')


def einsum_embedding_values(bt):
    """braintrace's einsum and embedding called as it documents them."""
    brainstate.random.seed(4)
    x, xt = brainstate.random.randn(2, 3), brainstate.random.randn(2, 5, 3)
    w, table = brainstate.random.randn(3, 4), brainstate.random.randn(6, 4)
    return [
        bt.einsum('bi,io->bo', x, w),
        bt.einsum('b t i , i o -> b t o', xt, w, weight_fn=jnp.tanh),
        bt.embedding(jnp.array([0, 5, 2]), table),
        bt.embedding(jnp.array(3), table, weight_fn=jnp.abs),
    ]


def token_rnn_training(bt, algo, T=5, **options):
    """Tokens embedded straight into the hidden state, recurrence by einsum, a Linear readout."""
    class Net(brainstate.nn.Module):
        def __init__(self):
            super().__init__()
            self.table = brainstate.ParamState(brainstate.random.randn(6, 4) * 0.5)
            self.wrec = brainstate.ParamState(brainstate.random.randn(4, 4) * 0.5)
            self.out = bt.nn.Linear(4, 2)

        def init_state(self, batch_size=None, **kwargs):
            self.h = brainstate.HiddenState(jnp.zeros((batch_size, 4)))

        def update(self, tok):
            drive = bt.embedding(tok, self.table.value) + bt.einsum('bi,io->bo', self.h.value, self.wrec.value)
            self.h.value = jnp.tanh(drive)
            return self.out(self.h.value)

    brainstate.random.seed(2)
    model = Net()
    toks = brainstate.random.randint(0, 6, (T, 3))
    ys = brainstate.random.randn(T, 3, 2)
    learner = bt.compile(model, algo, toks[0], batch_size=3, **options)

    def step_loss(tok, y):
        return jnp.mean((learner(tok) - y) ** 2)
    return learner.etrace_grad(toks, ys, step_fn=step_loss, return_value=True)


def test_einsum_and_embedding_give_braintraces_values():
    a, b = both(einsum_embedding_values)
    for x, y in zip(a, b):
        np.testing.assert_allclose(np.asarray(y), np.asarray(x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('algo', ['d_rtrl', 'pp_prop'])
def test_einsum_and_embedding_models_learn_as_in_braintrace(algo):
    options = {} if algo == 'd_rtrl' else {'decay_or_rank': 0.9}
    ours = dict(options, normalized=True, bias_correction=True) if algo == 'pp_prop' else options
    (g1, l1), (g2, l2) = both(token_rnn_training, algo, theirs=options, ours=ours)
    assert_same(l1, l2)
    assert float(np.abs(_leaves(g2[('table',)])[0]).max()) > 0
    assert_same(g1, g2, rtol=1e-4, atol=1e-6)


def test_einsum_equations_that_are_not_a_matrix_product_are_refused_here():
    x, w = jnp.ones((2, 3, 4)), jnp.ones((3, 4, 5))
    expected = real.einsum('bgi,gio->bgo', x, w)                  # braintrace: a grouped product
    assert expected.shape == (2, 3, 5)
    with pytest.raises(braintrace_lab.NotSupportedError, match=r"reshape the weight to \(in, out\)"):
        braintrace_lab.einsum('bgi,gio->bgo', x, w)
    with pytest.raises(ValueError, match='batched form'):
        braintrace_lab.einsum('i,io->o', x[0, 0], w[0])
