"""Clear errors for bad sizes, bad inputs and bad options."""
import brainstate
import brainunit as u
import jax.numpy as jnp
import numpy as np
import pytest

import braintrace_lab.nn as nn
from nn_testutils import np_init


@pytest.mark.parametrize('bad', [0, -3, 2.5, True, 'a', None, (), (3, 0)])
@pytest.mark.parametrize('make', [
    lambda s: nn.Linear(s, 3, w_init=np_init()),
    lambda s: nn.Linear(3, s, w_init=np_init()),
    lambda s: nn.GRUCell(s, 3, w_init=np_init()),
    lambda s: nn.LSTMCell(3, s, w_init=np_init()),
    lambda s: nn.LeakyRateReadout(s, 3, w_init=np_init()),
    lambda s: nn.SparseLinear(s, 3, prob=0.5),
    lambda s: nn.LoRALinear(3, 3, rank=s),
])
def test_bad_sizes(make, bad):
    with pytest.raises(ValueError, match='must'):
        make(bad)


@pytest.mark.parametrize('layer,x,label', [
    (lambda: nn.Linear(5, 3, w_init=np_init()), jnp.ones((2, 4)), 'Linear'),
    (lambda: nn.SparseLinear(5, 3, prob=0.5, w_init=np_init()), jnp.ones(6), 'SparseLinear'),
    (lambda: nn.LoRALinear(5, 3, rank=2, a_init=np_init()), jnp.ones(4), 'LoRALinear'),
    (lambda: nn.Conv2d((6, 5, 2), 3, 3, w_init=np_init()), jnp.ones((6, 5, 3)), 'Conv2d'),
    (lambda: nn.Conv1d((9, 2), 3, 3, w_init=np_init()), jnp.ones((8, 2)), 'Conv1d'),
    (lambda: nn.GRUCell(5, 3, w_init=np_init()), jnp.ones(4), 'GRUCell'),
    (lambda: nn.LSTMCell(5, 3, w_init=np_init()), jnp.ones((2, 7)), 'LSTMCell'),
    (lambda: nn.MGUCell(5, 3, w_init=np_init()), jnp.ones(4), 'MGUCell'),
    (lambda: nn.VanillaRNNCell(5, 3, w_init=np_init()), jnp.ones(4), 'ValinaRNNCell'),
    (lambda: nn.LeakyRateReadout(5, 3, w_init=np_init()), jnp.ones(4), 'LeakyRateReadout'),
])
def test_wrong_input_shape(layer, x, label):
    model = layer()
    brainstate.nn.init_all_states(model)
    with pytest.raises(ValueError) as info:
        model(x)
    msg = str(info.value)
    assert msg.startswith(label + ':')
    assert 'expected' in msg and str(tuple(x.shape)) in msg
    assert ', '.join(str(s) for s in model.in_size) + ')' in msg


def test_batch_mismatch_and_missing_state():
    cell = nn.GRUCell(5, 3, w_init=np_init())
    with pytest.raises(RuntimeError, match='init_state'):
        cell(jnp.ones(5))
    brainstate.nn.init_all_states(cell, batch_size=4)
    with pytest.raises(ValueError, match=r'batch shape \(\) .* \(4,\)'):
        cell(jnp.ones(5))
    ro = nn.LeakyRateReadout(5, 3, w_init=np_init())
    with pytest.raises(RuntimeError, match='init_state'):
        ro(jnp.ones(5))


def test_bad_activation():
    with pytest.raises(ValueError) as info:
        nn.GRUCell(3, 2, activation='swishy', w_init=np_init())
    for valid in ('tanh', 'relu', 'sigmoid', 'identity'):
        assert valid in str(info.value)
    with pytest.raises(ValueError, match='activation'):
        nn.VanillaRNNCell(3, 2, activation=3, w_init=np_init())


def test_conv_options():
    with pytest.raises(ValueError, match='in_size'):
        nn.Conv2d((8, 3), 4, 3)
    with pytest.raises(ValueError, match='padding'):
        nn.Conv1d((8, 3), 4, 3, padding='FULL')
    with pytest.raises(ValueError, match='padding'):
        nn.Conv1d((8, 3), 4, 3, padding=-1)
    with pytest.raises(TypeError, match='kernel_size'):       # brainstate's check, as in braintrace
        nn.Conv2d((8, 8, 3), 4, (3, 3, 3))
    with pytest.raises(ValueError, match='stride'):
        nn.Conv1d((8, 3), 4, 3, stride=0)
    with pytest.raises(ValueError, match='does not fit'):
        nn.Conv1d((2, 3), 4, 5, padding='VALID')


def test_sparse_options():
    with pytest.raises(ValueError, match='exactly one'):
        nn.SparseLinear(4, 3)
    with pytest.raises(ValueError, match='exactly one'):
        nn.SparseLinear(4, 3, connectivity=np.ones((4, 3), bool), prob=0.5)
    with pytest.raises(ValueError, match='prob'):
        nn.SparseLinear(4, 3, prob=1.5)
    with pytest.raises(ValueError, match='mask'):
        nn.SparseLinear(4, 3, connectivity=np.ones((3, 4), bool))
    with pytest.raises(ValueError, match='out of range'):
        nn.SparseLinear(4, 3, connectivity=([0, 4], [0, 1]))
    with pytest.raises(ValueError, match='same length'):
        nn.SparseLinear(4, 3, connectivity=([0, 1], [0]))


def test_initializer_errors():
    with pytest.raises(ValueError, match='weight'):
        nn.Linear(4, 3, w_init=np.ones((3, 3), np.float32))
    with pytest.raises(ValueError, match='in_size'):
        nn.Linear((2, 4), (3, 3), w_init=np_init())
    lin = nn.Linear(4, 3, w_init=0.5, b_init=0)   # scalars are broadcast, ints become floats
    assert lin.weight.value['weight'].shape == (4, 3)
    assert jnp.issubdtype(lin.weight.value['bias'].dtype, jnp.floating)


def test_readout_needs_dt_and_units(monkeypatch):
    ro = nn.LeakyRateReadout(4, 2, tau=10. * u.ms, w_init=np_init())
    ro.init_state()

    def no_dt():
        raise KeyError('dt')

    with monkeypatch.context() as m:   # as if no brainstate.environ.context(dt=...) were active
        m.setattr(brainstate.environ, 'get_dt', no_dt)
        with pytest.raises(RuntimeError, match=r'LeakyRateReadout needs the time step dt'):
            ro(jnp.ones(4))
    assert ro(jnp.ones(4)).shape == (2,)
    with pytest.raises(ValueError, match='positive'):
        nn.LeakyRateReadout(4, 2, tau=-1. * u.ms)
    plain = nn.LeakyRateReadout(4, 2, tau=10., w_init=np_init())   # tau without unit, dt in ms
    plain.init_state()
    with pytest.raises(ValueError, match='dimensionless|compatible'):
        plain(jnp.ones(4))
