"""Progress that keeps compiling apart from training, so the rate and the time left count training only.

A rule's first step is traced and compiled by XLA: seconds to minutes, against
milliseconds for every step after it. A progress bar that counts that step like the
others predicts a 20 s run to take half an hour. :class:`PhasedProgress` shows
``compiling <rule> ...`` while such a step runs and restarts the bar's clock when it
returns (tqdm's ``reset``; the steps already done are kept as its ``initial`` count), so
the rate and the estimate that follow are those of training. Every change of phase is
recorded in :attr:`PhasedProgress.events` and passed to ``on_phase(phase, rule, steps_done)``:
``'compiling'`` before a step that compiles, ``'training'`` before the first step after
compilation that does not.

>>> bar = PhasedProgress(total=3, desc='D-RTRL', disable=True)
>>> bar.compiling('D-RTRL'); bar.advance()          # the first step: it compiles
>>> bar.training(); bar.advance(); bar.advance()     # the others train
>>> [(e['phase'], e['rule'], e['steps_done']) for e in bar.events]
[('compiling', 'D-RTRL', 0), ('training', None, 1)]
>>> bar.close()
"""
from __future__ import annotations

import time
from typing import Callable, List, Optional

from tqdm.auto import tqdm

from .names import display_name

__all__ = ['PhasedProgress']

PHASES = ('compiling', 'training')


class PhasedProgress:
    """A tqdm bar over ``total`` steps whose clock starts when training does (see the module docstring).

    ``desc``: the bar's title; a rule's lab label (``'pp_prop(0.5)'``) shows as its display name.
    ``before(trainer, rule)`` goes before each training step (it asks the trainer whether the
    step compiles), ``advance(n)`` after it; ``skip(n)`` counts steps done elsewhere (a
    resumed checkpoint) without timing them. ``on_phase(phase, rule, steps_done)`` observes
    each change of phase. ``compile_seconds[rule]`` sums the wall time of that rule's
    compiling steps.
    """

    def __init__(self, total: int, desc: str, disable: bool = False, leave: bool = True,
                 on_phase: Optional[Callable] = None):
        self.desc = display_name(desc)
        self.bar = tqdm(total=total, desc=self.desc, disable=disable, leave=leave)
        self.on_phase = on_phase
        self.phase = 'ready'
        self.rule = None
        self.n = 0                              # steps counted, also when the bar is disabled
        self.events: List[dict] = []
        self.compile_seconds = {}
        self._t = None

    def _enter(self, phase: str, rule: Optional[str]):
        self.phase, self.rule = phase, rule
        self.events.append({'phase': phase, 'rule': rule, 'steps_done': self.n, 'time': time.perf_counter()})
        if self.on_phase is not None:
            self.on_phase(phase, rule, self.n)

    def compiling(self, rule: str):
        """The next step compiles: say so on the bar until :meth:`advance`."""
        self._enter('compiling', rule)
        self.bar.set_description_str(f'compiling {rule} ...', refresh=True)
        self._t = time.perf_counter()

    def training(self):
        """The next step trains (entered once after each compilation)."""
        if self.phase != 'training':
            self._enter('training', None)

    def before(self, trainer, rule: Optional[str] = None):
        """Enter the phase of ``trainer``'s next step: ``compiling`` when it compiles, else ``training``."""
        if getattr(trainer, 'compiles_next', False):
            self.compiling(rule or display_name(trainer.record.algorithm))
        else:
            self.training()

    def advance(self, n: int = 1, loss: Optional[float] = None):
        """``n`` steps finished; after a compiling step the clock restarts here."""
        self.n += n
        if self.phase == 'compiling':
            self.compile_seconds[self.rule] = self.compile_seconds.get(self.rule, 0.0) + time.perf_counter() - self._t
            self._restart_clock()
            self.bar.set_description_str(self.desc, refresh=False)
            self.phase = 'compiled'
        else:
            self.bar.update(n)
        if loss is not None:
            self.bar.set_postfix(loss=f'{loss:.4g}', refresh=False)

    def skip(self, n: int):
        """Count ``n`` steps that were done elsewhere (restored from a checkpoint): not timed."""
        if n:
            self.n += n
            self._restart_clock()

    def _restart_clock(self):
        """tqdm's clock starts now and the steps done so far become its ``initial`` count.

        tqdm's rate is ``(n - initial) / elapsed`` (or a moving average of the steps and
        seconds between two updates, which never saw a compiling step: it is not counted by
        ``update``), so what it shows from here on is the training rate.
        """
        bar = self.bar
        if bar.disable:
            return
        bar.n = bar.initial = bar.last_print_n = self.n
        bar.start_t = bar.last_print_t = getattr(bar, '_time', time.time)()
        bar.refresh()

    @property
    def start_t(self) -> Optional[float]:
        """When the bar's clock (tqdm's ``start_t``) last started; ``None`` for a bar disabled from the start."""
        return getattr(self.bar, 'start_t', None)

    def close(self):
        self.bar.close()

    def __repr__(self):
        return f'PhasedProgress({self.desc}: {self.phase}, {self.n} of {self.bar.total} steps)'
