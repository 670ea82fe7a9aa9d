"""Model factories for comparisons that are not catalog fixtures: the live recurrent SNN.

:class:`LiveSNNFactory` builds the seed tutorial's recurrent spiking network made live
(:class:`~braintrace_lab.models.seed_snn.LiveSNN`) for a task, with the weights of a given
seed; it says what it is in words (:meth:`LiveSNNFactory.describe`) and that it is recurrent,
so a comparison can explain which rules are exact on it. :func:`make_model_factory` picks it
or a catalog fixture by name.

>>> factory = make_model_factory('live_snn', get_task('evidence'), n_hidden=32)
>>> model = factory(batch_size=16, seed=3)
"""
from __future__ import annotations

from typing import Optional

import brainstate
import brainunit as u

from .learners import fixture_model

__all__ = ['LiveSNNFactory', 'make_model_factory']


class LiveSNNFactory:
    """``factory(batch_size, seed) -> LiveSNN`` sized for a task (inputs ``n_in``, ``n_out`` classes)."""

    recurrent = True                # the LIF layer's spikes feed back to it through trainable weights

    def __init__(self, n_in: int, n_out: int, n_hidden: int = 32, input_scale: float = 30.0):
        self.n_in, self.n_out, self.n_hidden, self.input_scale = n_in, n_out, n_hidden, input_scale

    def context(self):
        return brainstate.environ.context(dt=1. * u.ms)

    def __call__(self, batch_size=None, seed=None):
        from ..models.seed_snn import LiveSNN          # brainpy: loaded when a network is built
        with self.context():
            brainstate.random.seed(0 if seed is None else int(seed))
            model = LiveSNN(self.n_in, self.n_hidden, self.n_out, input_scale=self.input_scale)
            if batch_size:
                brainstate.nn.init_all_states(model, batch_size=batch_size)
            else:
                brainstate.nn.init_all_states(model)
        return model

    def describe(self) -> str:
        """The network in words (for the report)."""
        return (f'a recurrent spiking network: {self.n_in} inputs and the previous step\'s spikes drive '
                f'{self.n_hidden} leaky integrate-and-fire (LIF) neurons through one trainable weight matrix '
                f'(all-to-all recurrent weights; soft reset, surrogate gradient), read out by {self.n_out} '
                f'leaky output units')

    def __repr__(self):
        return f'LiveSNN(n_in={self.n_in}, n_hidden={self.n_hidden}, n_out={self.n_out})'


def make_model_factory(model: str, task, n_hidden: Optional[int] = None, options: Optional[dict] = None):
    """A model factory for ``task``: a catalog fixture name or ``'live_snn'``."""
    opts = dict(options or {})
    if n_hidden is not None:
        opts['n_hidden'] = int(n_hidden)
    if model == 'live_snn':
        return LiveSNNFactory(task.n_inputs, task.n_outputs, **opts)
    return fixture_model(model, task, **opts)
