"""Checkpoint paths are checked before training, a failed write keeps the finished steps, and a
resumed run must share the optimizer settings (learning rate included) of the run that wrote it."""
import os

import braintools
import pytest

from braintrace_lab import lab
from braintrace_lab.lab import checkpoint as ckpt
from braintrace_lab.lab.faults import CheckpointError, CheckpointWriteError

KW = dict(batch_size=2, progress=False)


@pytest.fixture(scope='module')
def leaky(dms):
    return lab.fixture_model('leaky', dms, n_hidden=4)


@pytest.fixture(scope='module')
def saved(leaky, dms, tmp_path_factory):
    """A 2-step run checkpointed at lr 1e-2 (Adam)."""
    path = tmp_path_factory.mktemp('ckpt') / 'run.ckpt'
    lab.train(lab.make_learner(leaky, 'd_rtrl'), dms, n_steps=2, optimizer=1e-2, checkpoint=str(path), **KW)
    return str(path)


def never_trains(monkeypatch):
    """Make any training step fail loudly: a path check must come first."""
    def step(self):
        raise AssertionError('a training step ran before the path was checked')
    monkeypatch.setattr(lab.Trainer, 'step', step)


# ---------------------------------------------------------------------------- A8: the optimizer of a resumed run
def test_resuming_with_another_learning_rate_is_refused_naming_both(leaky, dms, saved):
    with pytest.raises(CheckpointError, match=r"was written with optimizer setting lr=0.01, this trainer has lr=0.5: "
                                              r'resuming would not continue that run; pass optimizer=0.01 to '
                                              r'resume it'):
        lab.train(lab.make_learner(leaky, 'd_rtrl'), dms, n_steps=4, optimizer=0.5, checkpoint=saved, resume=saved,
                  **KW)


def test_resuming_with_another_optimizer_or_hyperparameter_is_refused(leaky, dms, saved):
    with pytest.raises(CheckpointError, match=r"optimizer setting optimizer='Adam', this trainer has "
                                              r"optimizer='SGD'"):
        lab.train(lab.make_learner(leaky, 'd_rtrl'), dms, n_steps=4, optimizer=braintools.optim.SGD(1e-2),
                  resume=saved, **KW)
    with pytest.raises(CheckpointError, match=r'optimizer setting weight_decay=0.0, this trainer has '
                                              r'weight_decay=0.1'):
        lab.train(lab.make_learner(leaky, 'd_rtrl'), dms, n_steps=4,
                  optimizer=braintools.optim.Adam(1e-2, weight_decay=0.1), resume=saved, **KW)


def test_resuming_with_the_same_optimizer_continues(leaky, dms, saved, tmp_path):
    path = tmp_path / 'copy.ckpt'
    path.write_bytes(open(saved, 'rb').read())
    rec = lab.train(lab.make_learner(leaky, 'd_rtrl'), dms, n_steps=3, optimizer=braintools.optim.Adam(1e-2),
                    checkpoint=str(path), resume=str(path), **KW)
    assert rec.n_steps == 3 and rec.config['resumed_at'] == [2]


def test_optimizer_settings_read_the_learning_rate_and_schedule():
    adam = ckpt.optimizer_settings(braintools.optim.Adam(0.5))
    assert adam['optimizer'] == 'Adam' and adam['lr'] == 0.5 and adam['betas'] == [0.9, 0.999]
    step = ckpt.optimizer_settings(braintools.optim.SGD(braintools.optim.StepLR(0.1, step_size=10, gamma=0.5)))
    assert step['lr_schedule'] == 'StepLR' and step['lr_schedule.step_size'] == 10 and step['lr_schedule.gamma'] == 0.5


# ---------------------------------------------------------------------------- B9: paths checked first
def test_a_checkpoint_under_a_file_is_refused_before_training(leaky, dms, tmp_path, monkeypatch):
    (tmp_path / 'afile').write_text('x')
    never_trains(monkeypatch)
    with pytest.raises(NotADirectoryError, match=r"checkpoint='.*afile/sub/x.ckpt' cannot be created: '.*afile' is "
                                                 r'a file, not a folder'):
        lab.train(lab.make_learner(leaky, 'd_rtrl'), dms, n_steps=3, checkpoint=str(tmp_path / 'afile/sub/x.ckpt'),
                  **KW)
    with pytest.raises(IsADirectoryError, match=r"checkpoint='.*' is a directory; give a file path, e.g. "
                                                r"'.*run.ckpt'"):
        lab.train(lab.make_learner(leaky, 'd_rtrl'), dms, n_steps=3, checkpoint=str(tmp_path), **KW)


def test_check_writable_refuses_an_unwritable_file_and_takes_new_folders(tmp_path):
    if os.path.exists('/proc/version'):
        with pytest.raises(PermissionError, match=r"--out='/proc/version' cannot be written"):
            ckpt.check_writable('/proc/version', '--out')
    new = tmp_path / 'a' / 'b' / 'run.ckpt'
    assert ckpt.check_writable(new) == str(new) and not (tmp_path / 'a').exists()     # nothing is created


def test_a_comparison_folder_under_a_file_is_refused_before_training(leaky, dms, tmp_path, monkeypatch):
    (tmp_path / 'afile').write_text('x')
    never_trains(monkeypatch)
    with pytest.raises(NotADirectoryError, match=r"'.*afile' is a file, not a folder"):
        lab.compare_algorithms(leaky, dms, ['d_rtrl'], n_steps=2, checkpoint=str(tmp_path / 'afile' / 'cmp'), **KW)


def sabotage_at_first_step(folder):
    """An ``on_step`` that puts a file where the checkpoint's folder should be (the next write fails)."""
    def on_step(*args):
        if not folder.exists():
            folder.write_text('in the way')
    return on_step


def test_a_checkpoint_that_cannot_be_written_keeps_the_finished_steps(leaky, dms, tmp_path):
    folder = tmp_path / 'sub'
    with pytest.raises(CheckpointWriteError, match=r"checkpoint '.*sub/run.ckpt' could not be written after step 2 "
                                                   r'.*\.record holds the 2 finished step\(s\)') as err:
        lab.train(lab.make_learner(leaky, 'd_rtrl'), dms, n_steps=5, checkpoint=str(folder / 'run.ckpt'),
                  checkpoint_every=2, on_step=sabotage_at_first_step(folder), **KW)
    assert isinstance(err.value, OSError) and err.value.step == 2
    assert err.value.record.n_steps == 2 and len(err.value.record.steps) == 2


def test_a_comparison_checkpoint_that_cannot_be_written_keeps_the_rows(leaky, dms, tmp_path, monkeypatch):
    from braintrace_lab.lab import compare as compare_mod
    folder, inner = tmp_path / 'cmp', tmp_path / 'cmp' / 'rules'
    orig = compare_mod.rule_checkpoint_path
    monkeypatch.setattr(compare_mod, 'rule_checkpoint_path', lambda f, i, label: orig(inner, i, label))
    with pytest.raises(CheckpointWriteError, match='could not be written after step 2') as err:
        lab.compare_algorithms(leaky, dms, ['d_rtrl'], n_steps=4, checkpoint=str(folder), checkpoint_every=2,
                               on_step=sabotage_at_first_step(inner), eval_size=0, **KW)
    rows = err.value.comparison.rows
    assert [r['algorithm'] for r in rows] == ['d_rtrl'] and err.value.comparison.seed_records['d_rtrl'][0].n_steps == 2
