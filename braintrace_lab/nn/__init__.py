"""Layers whose trainable weights reach recurrent states through ETP ops.

Every layer is a ``brainstate.nn.Module``: parameters live in ``brainstate.ParamState``
dicts, recurrent state in ``brainstate.HiddenState`` (made by ``init_state`` and
reset by ``reset_state``), and ``update(x)`` runs one step; ``x >> layer`` calls it.
"""
from ._base import ACTIVATIONS, Layer
from .conv import Conv1d, Conv2d, Conv3d
from .linear import Linear, LoRALinear, SparseLinear
from .readout import LeakyRateReadout
from .rnn import GRUCell, LSTMCell, MGUCell, RNNCell, ValinaRNNCell, VanillaRNNCell

__all__ = [
    'Layer', 'ACTIVATIONS',
    'Linear', 'SparseLinear', 'LoRALinear',
    'Conv1d', 'Conv2d', 'Conv3d',
    'LeakyRateReadout',
    'RNNCell', 'VanillaRNNCell', 'ValinaRNNCell', 'GRUCell', 'LSTMCell', 'MGUCell',
]

_CELLS = 'GRUCell, LSTMCell, MGUCell or VanillaRNNCell, or a cell of your own on braintrace_lab.matmul'
# braintrace.nn names this package does not serve, with what to use instead
_NOT_SERVED = {
    'LoRA': 'LoRALinear',
    'SignedWLinear': 'Linear, or braintrace_lab.matmul on a transformed weight (a weight read through plain '
                     'ops before the op is supported)',
    'ScaledWSLinear': 'Linear, or braintrace_lab.matmul on a standardised weight',
    'GroupedLinear': 'one Linear per group',
    'Embedding': 'brainstate.nn.Embedding (not an ETP layer: its weight learns by the step gradient)',
    'MinimalRNNCell': _CELLS, 'URLSTMCell': _CELLS, 'CFNCell': _CELLS, 'LRUCell': _CELLS,
    'MiniGRU': _CELLS, 'MiniLSTM': _CELLS,
}


def __getattr__(name):
    if name in _NOT_SERVED:
        raise AttributeError(f"braintrace_lab.nn does not provide braintrace.nn's {name!r}; use {_NOT_SERVED[name]}.")
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
