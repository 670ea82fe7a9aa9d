"""The ``braintrace-lab`` command line: compare learning rules, or open the tutorials.

``braintrace-lab compare``
    Trains several learning rules side by side on a built-in task, with a progress bar;
    prints the comparison table, says which rules are exact on the model and why, and
    writes a self-contained HTML report (table, loss and accuracy curves, agreement with
    BPTT) that opens offline: the plots are inline SVG, no JavaScript. With no choices it
    runs the teaching comparison: a recurrent spiking network (LIF neurons with all-to-all
    recurrent weights) on evidence accumulation, BPTT, D-RTRL, ES-D-RTRL, e-prop (random
    feedback, filtered), OTTT and OSTL, 5 seeds each, 95 % intervals, held-out accuracy.

``braintrace-lab lab``
    Opens JupyterLab on the course workspace, a copy of the tutorials in a folder of the
    user's (``~/braintrace-lab-course``, or ``--dir`` / ``$BRAINTRACE_LAB_COURSE_DIR``):
    created on first use, refreshed later without overwriting a notebook the user changed
    (:mod:`braintrace_lab.course.workspace`), with JupyterLab's news prompt off.
    ``--no-copy`` opens a folder as it is (``--no-browser`` and unknown options are passed
    on to ``jupyter lab``).

``braintrace-lab rules``
    Lists the learning rules: canonical names with display names and one-line
    descriptions, aliases apart, options with defaults (``--json`` for the records).

Rules are written ``NAME[:VALUE][:OPTION=VALUE]...`` (see :mod:`braintrace_lab.lab.rule_specs`):
a bare ``VALUE`` is the decay (a float) or rank (an int) of ``pp_prop`` / ``es_d_rtrl``;
options are the rule's own, e.g. ``eprop:feedback=random:kappa=0.95``, ``ottt:mode=O:decay=0.8``,
``otpe:mode=approx``, ``pp_prop:decay_or_rank=8``.

Examples::

    braintrace-lab compare                                   # the teaching comparison, ~1 min
    braintrace-lab compare --task spike_patterns --algorithms bptt,d_rtrl,pp_prop:0.5 \\
        --epochs 200 --out reports/snn.html
    braintrace-lab compare --algorithms bptt,eprop:feedback=random:kappa=0.5,ottt:mode=O --seeds 3
    braintrace-lab compare --seeds 3 --devices 4        # each batch split over 4 devices (docs/devices.md)
    braintrace-lab compare --epochs 2000 --checkpoint ckpt/ --checkpoint-every 100
    braintrace-lab compare --epochs 2000 --checkpoint ckpt/ --resume     # after a crash or Ctrl-C
    braintrace-lab lab --no-browser

Bad arguments exit with status 2 and a one-line message that names the valid choices; a
failure while training exits with status 1. Ctrl-C during ``compare`` prints the table of
the finished steps, writes the report marked "interrupted" and exits with status 130.
"""
from __future__ import annotations

import argparse
import datetime
import math
import os
import pathlib
import shlex
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from .lab.factories import LiveSNNFactory, make_model_factory
from .lab.rule_specs import RuleSpecError, format_rule, parse_rule
from .cli_lab import UsageError, add_lab_parser, build_lab_command, cmd_lab, find_tutorials
from .cli_rules import add_rules_parser, cmd_rules
from .rules_table import canonical_names

__all__ = ['main', 'build_parser', 'SETUPS', 'DEFAULT_TASK', 'DEFAULT_RULES', 'DEFAULT_SEEDS', 'DEFAULT_EPOCHS',
           'default_algorithms', 'valid_algorithms', 'parse_algorithm_list', 'build_lab_command', 'find_tutorials',
           'LiveSNNFactory', 'make_model_factory']

PROG = 'braintrace-lab'
DEFAULT_TASK = 'evidence'
DEFAULT_OUT = os.path.join('reports', 'compare.html')
# The teaching comparison: every rule's row differs from the others for a reason the report gives.
# e-prop as in its paper: random feedback, traces filtered with the readout's leak exp(-dt/tau_out)
# = exp(-1 ms / 20 ms) ~ 0.95.
DEFAULT_RULES = ('bptt', 'd_rtrl', 'es_d_rtrl:0.9', 'eprop:feedback=random:kappa=0.95', 'ottt', 'ostl_recurrent')
DEFAULT_SEEDS = 5           # with the default rules; 1 (fast) when --algorithms picks the rules
DEFAULT_EPOCHS = 300

# A small, learnable default per task: (task options, model, model options). The model is a
# catalog fixture name, or 'live_snn' for the seed tutorial's recurrent SNN made live.
SETUPS: Dict[str, Tuple[dict, str, dict]] = {
    'evidence': ({'n_cues': 7, 'n_per_group': 4, 'delay_steps': 8}, 'live_snn', {'n_hidden': 32}),
    'spike_patterns': ({'n_patterns': 10, 'n_classes': 5, 'n_steps': 25, 'n_in': 20, 'p': 0.15},
                       'live_snn', {'n_hidden': 32}),
    'dms': ({}, 'gru', {'n_hidden': 16}),
    'copy': ({}, 'gru', {'n_hidden': 24}),
    'adding': ({}, 'gru', {'n_hidden': 16}),
    'digits': ({}, 'gru', {'n_hidden': 32}),
    'digits_spikes': ({}, 'lif', {'n_hidden': 32}),
    'manifold': ({}, 'leaky', {'n_hidden': 16}),
}
MODELS = ('leaky', 'lif', 'alif', 'rnn', 'gru', 'live_snn')



# ---------------------------------------------------------------------------- algorithms
def _norm(name: str) -> str:
    return name.strip().lower().replace('-', '_')


def valid_algorithms() -> List[str]:
    """The canonical names of the rules the lab's runner can drive (``'bptt'`` first); aliases left out."""
    return canonical_names('cli')


def default_algorithms() -> List[str]:
    """The rules of the teaching comparison, as rule texts (:data:`DEFAULT_RULES`)."""
    return list(DEFAULT_RULES)


def parse_algorithm_list(text: str) -> List[tuple]:
    """``'bptt,pp_prop:0.5,eprop:feedback=random'`` -> ``[('bptt', {}), ('pp_prop', {...}), ('eprop', {...})]``.

    Each item is ``NAME[:VALUE][:OPTION=VALUE]...`` (:func:`~braintrace_lab.lab.rule_specs.parse_rule`).
    Raises :class:`UsageError` naming the valid algorithms or options.
    """
    items = [s.strip() for s in text.split(',') if s.strip()]
    if not items:
        raise UsageError(f'--algorithms is empty; give a comma-separated list of: {", ".join(valid_algorithms())}')
    out, seen = [], set()
    for item in items:
        try:
            key, opts = parse_rule(item)
        except RuleSpecError as err:
            raise UsageError(str(err)) from None
        ident = (key, tuple(sorted(opts.items())))
        if ident in seen:
            raise UsageError(f'algorithm {item!r} is listed twice')
        seen.add(ident)
        out.append((key, opts))
    return out


# ---------------------------------------------------------------------------- commands
def _number_type(convert, accept, expected: str, show_text: bool = False):
    """argparse ``type`` that converts, keeps values ``accept`` allows, and names ``expected`` otherwise."""
    def parse(text: str):
        try:
            v = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'expected {expected}, got {text!r}') from None
        if not accept(v):
            raise argparse.ArgumentTypeError(f'expected {expected}, got {text if show_text else v}')
        return v
    return parse


_positive_int = _number_type(int, lambda v: v >= 1, 'a positive integer')
_non_negative_int = _number_type(int, lambda v: v >= 0, 'an integer >= 0')
_seeds_type = _number_type(int, lambda v: v >= 1, 'a positive number of seeds per rule, e.g. --seeds 3')
_devices_type = _number_type(int, lambda v: v >= 1, 'a positive number of devices, e.g. --devices 4 (1: one device)')
_positive_float = _number_type(float, lambda v: v > 0 and math.isfinite(v), 'a positive number', show_text=True)


def _resolve_task(name: str):
    from .tasks import available_tasks
    key = _norm(name)
    if key not in available_tasks():
        raise UsageError(f'unknown task {name!r}; valid tasks: {", ".join(available_tasks())}')
    return key


def _check_checkpoint_args(args) -> None:
    """``--checkpoint`` / ``--checkpoint-every`` / ``--resume``: consistent, and no earlier run overwritten."""
    from .lab.checkpoint import MANIFEST
    if args.checkpoint is None:
        if args.resume or args.checkpoint_every is not None:
            raise UsageError('--resume and --checkpoint-every need --checkpoint DIR (the folder of the checkpoints)')
        return
    folder = pathlib.Path(args.checkpoint)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f'--checkpoint {str(folder)!r} is a file; give a folder (one checkpoint per algorithm)')
    has_run = (folder / MANIFEST).exists()
    if has_run and not args.resume:
        raise UsageError(f'--checkpoint {str(folder)!r} holds an earlier comparison; add --resume to continue it, '
                         f'or give an empty folder')
    if args.resume and not has_run:
        raise UsageError(f'--resume: nothing to resume in {str(folder)!r} (no {MANIFEST}); run without --resume '
                         f'to start there')


def _resolve_run(args) -> tuple:
    """``(rules, seeds, epochs)``: the teaching defaults unless ``--algorithms`` / ``--seeds`` / ``--epochs`` say."""
    if args.algorithms is not None:
        rules = parse_algorithm_list(args.algorithms)
    else:
        rules = [parse_rule(text) for text in default_algorithms()]
    seeds = args.seeds if args.seeds is not None else (1 if args.algorithms is not None else DEFAULT_SEEDS)
    return rules, seeds, args.epochs if args.epochs is not None else DEFAULT_EPOCHS


def _print_warnings(caught, comparison) -> None:
    """Each distinct warning once (liveness, callbacks, where a rule diverged ...), to stderr."""
    seen = set()
    texts = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    texts += [text for recs in comparison.seed_records.values() for rec in recs for text in rec.warnings]
    for text in texts:
        if text not in seen:
            seen.add(text)
            print(f'warning: {text}', file=sys.stderr)


def _resolve_devices(args) -> Optional[int]:
    """``--devices`` (and a multi-process run's options) checked: :func:`~braintrace_lab.lab.devices.launch`."""
    from .lab.devices import launch
    try:
        return launch(args.devices, args.batch_size, args.coordinator, args.num_processes, args.process_id,
                      checkpoint=args.checkpoint)
    except ValueError as err:
        raise UsageError(str(err)) from None


def _write_report(out: pathlib.Path, html: str) -> Optional[pathlib.Path]:
    """Write the report to ``out``; if that fails after training, to a temporary file instead (``None``: neither)."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(html, encoding='utf-8')
        return out
    except OSError as err:
        import tempfile
        fd, spare = tempfile.mkstemp(prefix='braintrace-lab-report-', suffix='.html')
        with os.fdopen(fd, 'w', encoding='utf-8') as fp:
            fp.write(html)
        print(f'{PROG} compare: failed: the report could not be written to {str(out)!r} ({type(err).__name__}: '
              f'{err}); it was written to {spare} instead (the table above has the results)', file=sys.stderr)
        return None


def cmd_compare(args, parser) -> int:
    task_name = _resolve_task(args.task)
    algorithms, n_seeds, epochs = _resolve_run(args)
    _check_checkpoint_args(args)
    devices = _resolve_devices(args)
    task_opts, model, model_opts = SETUPS.get(task_name, ({}, 'leaky', {'n_hidden': 16}))
    if args.model is not None:
        model = _norm(args.model)
        if model not in MODELS:
            raise UsageError(f'unknown model {args.model!r}; valid models: {", ".join(MODELS)}')
        if model != SETUPS.get(task_name, (None, None))[1]:
            model_opts = {} if model == 'live_snn' else {'n_hidden': 16}
    out = pathlib.Path(args.out)
    from .lab.checkpoint import check_writable
    try:
        check_writable(out, '--out')               # before training: a report that cannot be written loses nothing
    except OSError as err:
        raise UsageError(f'{err} (e.g. --out {DEFAULT_OUT})') from None

    import warnings as _w
    from .lab.compare import compare_algorithms
    from .lab.explain import describe_model
    from .lab.faults import TrainingInterrupted
    from .lab.html_report import render_report
    from .tasks import get_task
    task = get_task(task_name, seed=args.seed, **task_opts)
    factory = make_model_factory(model, task, args.hidden, model_opts)
    seeds = f'seed {args.seed}' if n_seeds == 1 else f'seeds {args.seed}..{args.seed + n_seeds - 1}'
    print(f'{PROG} compare: {", ".join(format_rule(n, o) for n, o in algorithms)} on {task_name} ({factory!r}), '
          f'{epochs} training steps, batch {args.batch_size}' + (f' over {devices} devices' if (devices or 1) > 1 else '')
          + f', {seeds}', file=sys.stderr)
    every = None if args.checkpoint is None else (args.checkpoint_every or max(1, epochs // 10))
    interrupted = None
    with _w.catch_warnings(record=True) as caught:
        _w.simplefilter('always')
        _w.filterwarnings('ignore', category=DeprecationWarning)
        _w.filterwarnings('ignore', category=FutureWarning)
        try:
            comparison = compare_algorithms(factory, task, algorithms, n_steps=epochs, seed=args.seed,
                                            batch_size=args.batch_size, optimizer=args.lr,
                                            record_every=args.record_every or None,
                                            progress=not args.no_progress, chunk=args.chunk,
                                            checkpoint=args.checkpoint, checkpoint_every=every, resume=args.resume,
                                            seeds=n_seeds, eval_size=args.eval_size, devices=devices)
        except TrainingInterrupted as err:          # Ctrl-C: keep the finished steps
            comparison, interrupted = err.comparison, err
    import jax
    if jax.process_index() > 0:                     # a multi-process run: process 0 prints and writes the report
        return 130 if interrupted is not None else 0
    _print_warnings(caught, comparison)
    print(comparison.table())
    if comparison.explanation:
        print('\n' + comparison.explain())
    meta = {'model': f'{describe_model(factory)} ({factory!r})', 'chance_level': getattr(task, 'chance_level', None),
            'written': datetime.datetime.now().isoformat(timespec='seconds'), 'command': ' '.join(
                [PROG] + [shlex.quote(a) for a in (args.argv or [])])}
    out = _write_report(out, render_report(comparison, meta=meta))
    if out is None:
        return 130 if interrupted is not None else 1
    if interrupted is not None:
        again = ' (continue with the same command and --resume)' if args.checkpoint is not None else ''
        print(f'{PROG} compare: interrupted; the table above has the finished steps, report written to {out} '
              f'(marked interrupted){again}', file=sys.stderr)
        return 130
    print(f'report written to {out}', file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description='Online learning in recurrent and spiking networks: compare rules, open the lab.')
    sub = parser.add_subparsers(dest='command', metavar='{compare,lab,rules}')
    sub.required = True
    c = sub.add_parser('compare', help='train several algorithms on a task and write an HTML report',
                       description='Train several algorithms side by side on a built-in task (same model, '
                                   'same batches), print the comparison table and write a self-contained '
                                   'HTML report.')
    c.add_argument('--task', default=DEFAULT_TASK,
                   help=f'built-in task (default: {DEFAULT_TASK}): copy, adding, dms, evidence, digits, '
                        f'digits_spikes, manifold, spike_patterns')
    c.add_argument('--algorithms', default=None, metavar='RULES',
                   help='comma-separated rules, each NAME[:VALUE][:OPTION=VALUE]..., e.g. '
                        'bptt,pp_prop:0.5,eprop:feedback=random:kappa=0.95,ottt:mode=O,otpe:mode=approx '
                        '(a bare VALUE is the decay or rank of pp_prop / es_d_rtrl; OPTION is one of the '
                        'rule\'s own, listed by braintrace-lab rules); default: '
                        + ','.join(DEFAULT_RULES))
    c.add_argument('--epochs', type=_positive_int, default=None,
                   help=f'training steps per rule and seed, one fresh batch each (default: {DEFAULT_EPOCHS})')
    c.add_argument('--seeds', type=_seeds_type, default=None, metavar='K',
                   help=f'train every rule with K seeds (the same K initial weights and batch streams for every '
                        f'rule; the table shows means and 95 %% t-intervals); default: {DEFAULT_SEEDS} with the '
                        f'default rules, 1 with --algorithms')
    c.add_argument('--eval-size', type=_non_negative_int, default=256, metavar='N',
                   help='held-out sequences the accuracy column is measured on, after training (default: 256; '
                        '0: none)')
    c.add_argument('--seed', type=_non_negative_int, default=0,
                   help='seed of the task, the initial weights and the batches (the first seed with --seeds)')
    c.add_argument('--out', default=DEFAULT_OUT, help=f'HTML report path (default: {DEFAULT_OUT})')
    c.add_argument('--model', default=None, help=f'model instead of the task default: {", ".join(MODELS)}')
    c.add_argument('--hidden', type=_positive_int, default=None, help='hidden units (default: per task)')
    c.add_argument('--batch-size', type=_positive_int, default=32, help='batch size (default: 32)')
    c.add_argument('--lr', type=_positive_float, default=2e-2, help='Adam learning rate (default: 0.02)')
    c.add_argument('--record-every', type=_positive_int, default=None,
                   help='record (and check against BPTT) every N steps (default: epochs / 20)')
    c.add_argument('--chunk', type=_positive_int, default=None,
                   help='online rules add their weight products once per CHUNK steps (the same gradient; '
                        'faster on wide layers with small batches)')
    c.add_argument('--checkpoint', default=None, metavar='DIR',
                   help='keep a checkpoint per algorithm in DIR (weights, optimizer, record so far)')
    c.add_argument('--checkpoint-every', type=_positive_int, default=None, metavar='N',
                   help='write the checkpoints every N steps (default: epochs / 10)')
    c.add_argument('--resume', action='store_true',
                   help='continue the comparison checkpointed in --checkpoint DIR (same arguments); '
                        'algorithms already done are not trained again')
    c.add_argument('--devices', type=_devices_type, default=None, metavar='N',
                   help='split every batch and its eligibility traces over N devices (weights replicated, '
                        'gradients reduced by XLA; the batch size must be a multiple of N); default: one device')
    c.add_argument('--coordinator', metavar='HOST:PORT', help='multi-process run: address of process 0 (docs/devices.md)')
    c.add_argument('--num-processes', type=_positive_int, metavar='P', help='multi-process run: processes in it')
    c.add_argument('--process-id', type=_non_negative_int, metavar='I', help='multi-process run: this one, 0..P-1')
    c.add_argument('--no-progress', action='store_true', help='no progress bar')
    add_lab_parser(sub, _positive_int)
    add_rules_parser(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``braintrace-lab``; returns the exit status (see the module docstring)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    args.argv = argv
    if extra and args.command != 'lab':
        parser.error(f'unrecognized arguments: {" ".join(extra)}')
    sub = parser._subparsers._group_actions[0].choices[args.command]
    try:
        if args.command == 'compare':
            return cmd_compare(args, sub)
        if args.command == 'rules':
            return cmd_rules(args, sub)
        return cmd_lab(args, sub, extra)
    except UsageError as err:
        sub.print_usage(sys.stderr)
        print(f'{sub.prog}: error: {err}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f'{PROG}: interrupted', file=sys.stderr)
        return 130
    except Exception as err:                        # a failure while training: say what, exit 1
        print(f'{PROG} {args.command}: failed: {type(err).__name__}: {err}', file=sys.stderr)
        if os.environ.get('BRAINTRACE_LAB_DEBUG'):
            raise
        return 1


if __name__ == '__main__':
    sys.exit(main())
