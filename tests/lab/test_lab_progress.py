"""Progress: compiling is its own phase, and the bar's clock (its rate and time left) starts at training."""
import time
import types

from braintrace_lab import lab
from braintrace_lab.lab.progress import PhasedProgress


def _fake_trainer(compiles: bool, label: str = 'pp_prop(0.5)'):
    return types.SimpleNamespace(compiles_next=compiles, record=types.SimpleNamespace(algorithm=label))


def test_the_clock_restarts_when_the_compiling_step_returns(capsys):
    bar = PhasedProgress(total=5, desc='pp_prop(0.5)')
    assert bar.bar.desc.startswith('ES-D-RTRL (a=0.5)')              # the display name, not the lab label
    first = bar.start_t
    bar.before(_fake_trainer(True))
    assert bar.phase == 'compiling' and bar.bar.desc.startswith('compiling ES-D-RTRL (a=0.5) ...')
    time.sleep(0.05)                                                 # the compilation
    returned = time.perf_counter(), time.time()
    bar.advance()
    # the clock starts after the compiling step, which is counted as done but not timed
    assert bar.start_t >= returned[1] > first
    assert bar.bar.n == bar.bar.initial == 1 and bar.bar.desc.startswith('ES-D-RTRL (a=0.5)')
    for _ in range(3):
        bar.before(_fake_trainer(False))
        bar.advance(loss=0.5)
    fmt = bar.bar.format_dict
    assert fmt['n'] - fmt['initial'] == 3                            # tqdm's rate counts the training steps only
    assert fmt['elapsed'] < time.time() - first                       # and their time only
    assert [(e['phase'], e['rule'], e['steps_done']) for e in bar.events] == \
        [('compiling', 'ES-D-RTRL (a=0.5)', 0), ('training', None, 1)]
    assert bar.events[1]['time'] >= returned[0]
    assert bar.compile_seconds['ES-D-RTRL (a=0.5)'] >= 0.05
    bar.close()
    assert 'compiling ES-D-RTRL (a=0.5) ...' in capsys.readouterr().err


def test_skipped_steps_are_counted_but_not_timed():
    bar = PhasedProgress(total=10, desc='compare')
    bar.skip(4)                                                      # restored from a checkpoint
    assert bar.bar.n == bar.bar.initial == 4 and bar.n == 4
    bar.advance(2)
    assert bar.bar.format_dict['n'] - bar.bar.format_dict['initial'] == 2
    bar.close()


def test_disabled_bar_still_records_the_phases():
    seen = []
    bar = PhasedProgress(total=3, desc='d_rtrl', disable=True, on_phase=lambda *a: seen.append(a))
    bar.before(_fake_trainer(True, 'd_rtrl'))
    bar.advance()
    bar.before(_fake_trainer(False, 'd_rtrl'))
    bar.advance()
    bar.before(_fake_trainer(False, 'd_rtrl'))                      # still training: no new event
    bar.advance()
    assert seen == [('compiling', 'D-RTRL', 0), ('training', None, 1)] and bar.start_t is None and bar.n == 3


def test_trainer_run_shows_compiling_then_trains(make_rnn, dms, capsys):
    stamps = {}
    tr = lab.Trainer(lab.make_learner(make_rnn, 'd_rtrl'), dms, batch_size=4, record_every=2,
                     on_step=lambda row: stamps.setdefault(row['step'], time.time()))
    assert tr.compiles_next
    tr.run(5)
    bar = tr.progress_bar
    # step 0 (recorded) and step 1 (the step between recorded steps) compile; then training
    assert [(e['phase'], e['rule'], e['steps_done']) for e in bar.events] == \
        [('compiling', 'D-RTRL', 0), ('compiling', 'D-RTRL', 1), ('training', None, 2)]
    assert tr.record.compile_steps == [0, 1] and not tr.compiles_next
    assert bar.bar.initial == 2 and bar.bar.n == 5
    assert bar.start_t >= stamps[0]                # the clock started after the first (compiling) step returned
    assert bar.compile_seconds['D-RTRL'] >= tr.record.step_times[0] + tr.record.step_times[1]
    err = capsys.readouterr().err
    assert 'compiling D-RTRL ...' in err and 'D-RTRL: 100%' in err


def test_comparison_reports_each_compiling_step_once(make_rnn, dms):
    """Two rules, two seeds: four compiling steps (first and first unrecorded step per rule), then training;
    the second seed reuses the compiled steps."""
    seen = []
    cmp = lab.compare_algorithms(make_rnn, dms, ('bptt', 'd_rtrl'), n_steps=3, batch_size=4, record_every=2,
                                 seeds=2, eval_size=0, measure_memory=False, progress=False,
                                 on_phase=lambda *a: seen.append(a))
    assert seen == [('compiling', 'BPTT', 0), ('compiling', 'D-RTRL', 1), ('compiling', 'BPTT', 2),
                    ('compiling', 'D-RTRL', 3), ('training', None, 4)]
    assert [r['display_name'] for r in cmp.rows] == ['BPTT', 'D-RTRL']
