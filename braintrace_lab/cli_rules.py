"""``braintrace-lab rules``: the algorithm table on the command line.

Lists every registered learning rule once, by its canonical name, with its display name
and a one-line description; then the aliases apart, each rule's options with their
defaults, and the rules that only ``compile`` can drive (with the reason). ``NAME`` shows
one rule (an alias works too); ``--path`` keeps the rules one path can drive;
``--json`` prints the records (:meth:`~braintrace_lab.rules_table.RuleEntry.to_dict`).

    braintrace-lab rules
    braintrace-lab rules es-d-rtrl
    braintrace-lab rules --path agreement --json
"""
from __future__ import annotations

import json
import sys

from .rules_table import PATHS, find, rule_table, unknown_rule_message

__all__ = ['add_rules_parser', 'cmd_rules', 'format_rules', 'format_rule_entry']


def add_rules_parser(sub):
    """Add the ``rules`` subcommand to the subparsers ``sub`` of the ``braintrace-lab`` parser."""
    p = sub.add_parser('rules', help='list the learning rules: names, display names, options, aliases',
                       description='List the registered learning rules: canonical names with their display names '
                                   'and one-line descriptions, aliases apart, options with defaults, and which '
                                   'paths (compile, the lab runner, the comparison, the CLI, the widgets) can drive '
                                   'each.')
    p.add_argument('name', nargs='?', default=None, help='show one rule (a canonical name or an alias)')
    p.add_argument('--path', choices=tuple(PATHS), default=None,
                   help='only the rules this path can drive: ' + '; '.join(f'{k}: {v}' for k, v in PATHS.items()))
    p.add_argument('--json', action='store_true', help='print the records as JSON')
    return p


def _summary(entry) -> str:
    """The description without a leading ``'<display name>: '`` (the listing shows that name already)."""
    prefix = f'{entry.display_name}: '
    text = entry.description[len(prefix):] if entry.description.startswith(prefix) else entry.description
    return text[:1].upper() + text[1:]


def _options(entry) -> str:
    return ', '.join(map(repr, entry.options)) or 'none'


def format_rules(entries) -> str:
    """The listing of ``entries`` (records of the algorithm table) as plain text."""
    entries = list(entries)
    w_name = max([len('name')] + [len(e.name) for e in entries]) + 2
    w_disp = max([len('display name')] + [len(e.display_name) for e in entries]) + 2
    lines = ['Learning rules: use a name in compile(model, NAME, x0) or braintrace-lab compare --algorithms '
             'NAME[:VALUE][:OPTION=VALUE]...', '',
             f'{"name":<{w_name}}{"display name":<{w_disp}}description']
    lines += [f'{e.name:<{w_name}}{e.display_name:<{w_disp}}{_summary(e)}' for e in entries]
    aliased = [e for e in entries if e.aliases]
    if aliased:
        lines += ['', 'aliases (the same rule under another name)']
        lines += [f'  {e.name:<{w_name}}{", ".join(e.aliases)}' for e in aliased]
    with_options = [e for e in entries if e.options]
    if with_options:
        lines += ['', 'options (defaults; NAME:OPTION=VALUE on the command line)']
        lines += [f'  {e.name:<{w_name}}{_options(e)}' for e in with_options]
    compile_only = [e for e in entries if not e.drives('train')]
    if compile_only:
        lines += ['', "compile only (not in the lab's runner)"]
        lines += [f'  {e.name:<{w_name}}{e.lab_refusal}' for e in compile_only]
    return '\n'.join(lines)


def format_rule_entry(entry) -> str:
    """One rule in full, as plain text."""
    lines = [f'{entry.name}: {entry.display_name}', f'  {entry.description}']
    if entry.aliases:
        lines.append(f'  aliases: {", ".join(entry.aliases)}')
    lines.append(f'  options: {_options(entry)}')
    if entry.implementation_options:
        lines.append(f'  Python API options: {", ".join(entry.implementation_options)}')
    lines.append(f'  driven by: {", ".join(entry.paths)}')
    if entry.lab_refusal:
        lines.append(f"  not in the lab's runner: {entry.lab_refusal}")
    lines.append(f'  class: {entry.rule.__module__}.{entry.rule.__qualname__}')
    return '\n'.join(lines)


def cmd_rules(args, parser) -> int:
    """Print the table (or one rule) to stdout; an unknown name prints the valid ones and exits with 2."""
    if args.name is not None:
        entry = find(args.name)
        if entry is None:
            parser.print_usage(sys.stderr)
            print(f'{parser.prog}: error: {unknown_rule_message(args.name)}', file=sys.stderr)
            return 2
        print(json.dumps(entry.to_dict(), indent=2) if args.json else format_rule_entry(entry))
        return 0
    entries = rule_table(args.path)
    print(json.dumps([e.to_dict() for e in entries], indent=2) if args.json else format_rules(entries))
    return 0
