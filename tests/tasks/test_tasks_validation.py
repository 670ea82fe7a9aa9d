"""Constructor arguments are validated with TypeError / ValueError naming the argument."""
import ast
import pathlib

import pytest

import braintrace_lab.tasks as tasks_pkg
from braintrace_lab.tasks import (AddingTask, CopyTask, DelayedMatchToSample, EvidenceAccumulation,
                                  RandomManifold, SequentialDigits, SpikePatterns)

CASES = [
    (CopyTask, {'n_symbols': 1}, ValueError, 'n_symbols'),
    (CopyTask, {'n_symbols': 2.0}, TypeError, 'n_symbols'),
    (CopyTask, {'seq_len': 0}, ValueError, 'seq_len'),
    (CopyTask, {'delay': -1}, ValueError, 'delay'),
    (AddingTask, {'n_steps': 1}, ValueError, 'n_steps'),
    (AddingTask, {'n_markers': 0}, ValueError, 'n_markers'),
    (AddingTask, {'n_steps': 3, 'n_markers': 5}, ValueError, 'n_steps'),
    (DelayedMatchToSample, {'n_stimuli': 1}, ValueError, 'n_stimuli'),
    (DelayedMatchToSample, {'sample_steps': 0}, ValueError, 'sample_steps'),
    (DelayedMatchToSample, {'noise': -0.1}, ValueError, 'noise'),
    (DelayedMatchToSample, {'noise': 'high'}, TypeError, 'noise'),
    (EvidenceAccumulation, {'n_cues': 6}, ValueError, 'n_cues'),
    (EvidenceAccumulation, {'cue_rate': 0.0}, ValueError, 'cue_rate'),
    (EvidenceAccumulation, {'noise_rate': 1.5}, ValueError, 'noise_rate'),
    (EvidenceAccumulation, {'recall_steps': 0}, ValueError, 'recall_steps'),
    (SequentialDigits, {'encoding': 'pixels'}, ValueError, 'encoding'),
    (SequentialDigits, {'repeat': 0}, ValueError, 'repeat'),
    (SequentialDigits, {'test_fraction': 1.0}, ValueError, 'test_fraction'),
    (SequentialDigits, {'max_rate': 0.0}, ValueError, 'max_rate'),
    (SequentialDigits, {'spike_steps': 0}, ValueError, 'spike_steps'),
    (RandomManifold, {'n_classes': 1}, ValueError, 'n_classes'),
    (RandomManifold, {'smooth_steps': -1.0}, ValueError, 'smooth_steps'),
    (RandomManifold, {'max_rate': float('nan')}, ValueError, 'max_rate'),
    (SpikePatterns, {'n_patterns': 1, 'n_classes': 2}, ValueError, 'n_patterns'),
    (SpikePatterns, {'p': 0.0}, ValueError, 'p '),
    (SpikePatterns, {'p': 1.0}, ValueError, 'p '),
    (SpikePatterns, {'flip_prob': 0.6}, ValueError, 'flip_prob'),
    (SpikePatterns, {'seed': -1}, ValueError, 'seed'),
    (CopyTask, {'seed': 'abc'}, TypeError, 'seed'),
    (AddingTask, {'seed': 2 ** 40}, ValueError, 'seed'),
]


@pytest.mark.parametrize('cls, kwargs, exc, arg', CASES,
                         ids=[f'{c.__name__}-{"-".join(k)}' for c, k, _, _ in CASES])
def test_bad_argument_is_named_with_its_value(cls, kwargs, exc, arg):
    with pytest.raises(exc) as info:
        cls(**kwargs)
    message = str(info.value)
    assert arg in message, message
    assert cls.__name__ in message, message
    bad = kwargs[arg.strip()]
    shown = repr(bad) if isinstance(bad, str) else str(bad)
    assert shown in message or repr(bad) in message, message


def test_arguments_are_keyword_only():
    with pytest.raises(TypeError):
        CopyTask(4)


def test_numpy_integers_are_accepted_and_normalised():
    import numpy as np
    task = CopyTask(n_symbols=np.int64(5))
    assert type(task.n_symbols) is int and task.n_outputs == 5


def test_no_assert_statements_in_the_package():
    """Validation must survive ``python -O``: no ``assert`` in the task sources."""
    root = pathlib.Path(tasks_pkg.__file__).parent
    for path in root.glob('*.py'):
        tree = ast.parse(path.read_text())
        asserts = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Assert)]
        assert not asserts, f'{path.name} uses assert at lines {asserts}'
