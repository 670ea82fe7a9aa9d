"""Layers whose trainable weights reach recurrent states through ETP ops.

Every layer is a ``brainstate.nn.Module``: parameters live in ``brainstate.ParamState``
dicts, recurrent state in ``brainstate.HiddenState`` (made by ``init_state`` and
reset by ``reset_state``), and ``update(x)`` runs one step; ``x >> layer`` calls it.
"""
from ._base import ACTIVATIONS, Layer
from .conv import Conv1d, Conv2d, Conv3d
from .linear import Linear, LoRA, LoRALinear, SignedWLinear, SparseLinear
from .readout import LeakyRateReadout
from .rnn import GRUCell, LSTMCell, MGUCell, MiniGRU, MiniLSTM, RNNCell, ValinaRNNCell, VanillaRNNCell

__all__ = [
    'Layer', 'ACTIVATIONS',
    'Linear', 'SparseLinear', 'LoRALinear', 'SignedWLinear', 'LoRA',
    'Conv1d', 'Conv2d', 'Conv3d',
    'LeakyRateReadout',
    'RNNCell', 'VanillaRNNCell', 'ValinaRNNCell', 'GRUCell', 'LSTMCell', 'MGUCell', 'MiniGRU', 'MiniLSTM',
]

_CELLS = 'GRUCell, LSTMCell, MGUCell, MiniGRU, MiniLSTM or ValinaRNNCell, or a cell of your own on braintrace_lab.matmul'
# braintrace.nn names this package does not serve, with what to use instead
_NOT_SERVED = {
    'ScaledWSLinear': 'Linear, or braintrace_lab.matmul on a standardised weight',
    'GroupedLinear': 'one Linear per group',
    'Embedding': 'brainstate.nn.Embedding (not an ETP layer: its weight learns by the step gradient)',
    'MinimalRNNCell': _CELLS, 'URLSTMCell': _CELLS, 'CFNCell': _CELLS, 'LRUCell': _CELLS,
}


# names braintrace.nn forwards, unchanged, to the packages that define them
FORWARDED_TO_BRAINPY_STATE = ('IF', 'LIF', 'ALIF', 'Expon', 'Alpha', 'DualExpon', 'STP', 'STD')
FORWARDED_TO_BRAINSTATE_NN = (
    'ReLU', 'RReLU', 'Hardtanh', 'ReLU6', 'Sigmoid', 'Hardsigmoid', 'Tanh', 'SiLU', 'Mish', 'Hardswish',
    'ELU', 'CELU', 'SELU', 'GLU', 'GELU', 'Hardshrink', 'LeakyReLU', 'LogSigmoid', 'Softplus', 'Softshrink',
    'PReLU', 'Softsign', 'Tanhshrink', 'Softmin', 'Softmax', 'Softmax2d', 'LogSoftmax',
    'Dropout', 'Dropout1d', 'Dropout2d', 'Dropout3d', 'Identity', 'SpikeBitwise', 'Flatten', 'Unflatten',
    'AvgPool1d', 'AvgPool2d', 'AvgPool3d', 'MaxPool1d', 'MaxPool2d', 'MaxPool3d',
    'AdaptiveAvgPool1d', 'AdaptiveAvgPool2d', 'AdaptiveAvgPool3d',
    'AdaptiveMaxPool1d', 'AdaptiveMaxPool2d', 'AdaptiveMaxPool3d',
    'BatchNorm0d', 'BatchNorm1d', 'BatchNorm2d', 'BatchNorm3d', 'LayerNorm', 'RMSNorm', 'GroupNorm',
)


def _forward(name, module_name):
    import importlib
    import warnings
    warnings.warn(f'braintrace_lab.nn.{name} is {module_name}.{name} (as braintrace.nn forwards it); '
                  f'import it from {module_name}.', DeprecationWarning, stacklevel=3)
    return getattr(importlib.import_module(module_name), name)


def __getattr__(name):
    if name in FORWARDED_TO_BRAINPY_STATE:
        return _forward(name, 'brainpy.state')
    if name in FORWARDED_TO_BRAINSTATE_NN:
        return _forward(name, 'brainstate.nn')
    if name in _NOT_SERVED:
        raise AttributeError(f"braintrace_lab.nn does not provide braintrace.nn's {name!r}; use {_NOT_SERVED[name]}.")
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def __dir__():
    return sorted(set(globals()) | set(FORWARDED_TO_BRAINPY_STATE) | set(FORWARDED_TO_BRAINSTATE_NN))
