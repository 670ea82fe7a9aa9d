"""Built-in tasks for online learning, generated offline from a seed (no downloads, ever).

Every task yields time-major batches ``inputs (T, B, F)`` float32 with targets, an
optional step mask and a loss kind, and documents its chance level:

======================  ===============================  ==========================================
name                    class                            targets / chance level
======================  ===============================  ==========================================
``'copy'``              :class:`CopyTask`                ``(T, B)`` labels + recall mask; 1/n_symbols
``'adding'``            :class:`AddingTask`              ``(B,)`` float sum; MSE n_markers/12
``'dms'``               :class:`DelayedMatchToSample`    ``(B,)`` match label; 0.5
``'evidence'``          :class:`EvidenceAccumulation`    ``(B,)`` side + recall mask; 0.5
``'digits'``            :class:`SequentialDigits`        ``(B,)`` digit, rows; 0.1
``'digits_spikes'``     :class:`SequentialDigits`        ``(B,)`` digit, rate spikes; 0.1
``'manifold'``          :class:`RandomManifold`          ``(B,)`` class; 1/n_classes
``'spike_patterns'``    :class:`SpikePatterns`           ``(B,)`` pattern label; 1/n_classes
======================  ===============================  ==========================================

>>> from braintrace_lab.tasks import get_task
>>> task = get_task('evidence', seed=1)
>>> batch = task.batch(32, 0)                           # batch 0 of the training stream
>>> held_out = task.eval_batch(256)                     # the fixed evaluation set (never trained on)
>>> loss, acc = task.loss_and_accuracy(logits, batch)  # doctest: +SKIP
"""
from .adding import AddingTask
from .base import SPLITS, Batch, Task, loss_and_accuracy
from .copy_task import CopyTask
from .digits import SequentialDigits
from .dms import DelayedMatchToSample
from .evidence import EvidenceAccumulation
from .manifold import RandomManifold
from .registry import available_tasks, get_task
from .spike_patterns import SpikePatterns

__all__ = ['Batch', 'Task', 'loss_and_accuracy', 'get_task', 'available_tasks', 'SPLITS',
           'CopyTask', 'AddingTask', 'DelayedMatchToSample', 'EvidenceAccumulation',
           'SequentialDigits', 'RandomManifold', 'SpikePatterns']
