"""The lab: train, compare and inspect online learning rules (no Jupyter imports here).

* :func:`train` / :class:`Trainer` - drive any learner on a task, recording loss, accuracy,
  trace and learning-signal magnitudes and agreement with an oracle (:class:`TrainingRecord`);
* :func:`compare_algorithms` - several rules on one model and task, over ``seeds=K`` seeds, scored on
  held-out data: means, 95 % t-intervals and why the rows differ (:class:`Comparison`);
* :func:`evaluate` - a trained model's loss and accuracy on held-out sequences;
* :func:`gradient_agreement` - online gradient vs oracle per parameter and per step;
* :func:`warn_if_silent` - plain-words warning for a silent spiking network;
* :mod:`.views` - the NumPy view models the widgets display;
* :func:`render_report` - a comparison as one offline HTML page (:mod:`.html_report`);
* :class:`NonFiniteError`, :class:`TrainingInterrupted`, :class:`CheckpointError`,
  :class:`CheckpointWriteError` - failures
  that stop a run without hiding it or losing its finished steps (:mod:`.faults`, :mod:`.checkpoint`).

>>> from braintrace_lab import lab
>>> task = get_task('dms')
>>> make = lab.fixture_model('leaky', task, n_hidden=12)
>>> record = lab.train(lab.make_learner(make, 'd_rtrl'), task, n_steps=100, oracle='bptt')
>>> print(lab.compare_algorithms(make, task, n_steps=100).table())
"""
from .agreement import AgreementResult, gradient_agreement
from .compare import COLUMNS as COMPARISON_COLUMNS
from .compare import Comparison, compare_algorithms, parse_algorithms
from .data import DataSource, SequenceSource, SourceBatch, TaskSource, as_source
from .evaluate import evaluate
from .factories import LiveSNNFactory
from .faults import CheckpointError, CheckpointWriteError, NonFiniteError, TrainingInterrupted
from .html_report import render_report
from .learners import (BPTT, LearnerFactory, ModelFactory, algorithm_label, fixture_model, make_learner,
                       sequence_grads)
from .liveness import LivenessWarning, warn_if_silent
from .record import TrainingRecord
from .runner import Trainer, make_optimizer, train
from .views import graph_view_model, heatmap_payload, trace_heatmap

__all__ = ['train', 'Trainer', 'TrainingRecord', 'make_optimizer',
           'compare_algorithms', 'Comparison', 'parse_algorithms', 'COMPARISON_COLUMNS', 'evaluate', 'LiveSNNFactory',
           'gradient_agreement', 'AgreementResult',
           'BPTT', 'LearnerFactory', 'ModelFactory', 'make_learner', 'fixture_model', 'algorithm_label',
           'sequence_grads', 'as_source', 'DataSource', 'TaskSource', 'SequenceSource', 'SourceBatch',
           'LivenessWarning', 'warn_if_silent', 'graph_view_model', 'heatmap_payload', 'trace_heatmap',
           'render_report', 'NonFiniteError', 'TrainingInterrupted', 'CheckpointError', 'CheckpointWriteError']
