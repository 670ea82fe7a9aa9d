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
