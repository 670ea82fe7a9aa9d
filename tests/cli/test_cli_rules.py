"""``braintrace-lab rules``: the algorithm table listed, one rule shown, JSON, and an unknown name refused."""
import json

import pytest

from braintrace_lab import cli
from braintrace_lab.rules_table import canonical_names, lookup, rule_table


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_rules_lists_canonical_names_once_with_display_names_and_aliases_apart(capsys):
    code, out, err = run(capsys, 'rules')
    assert code == 0 and err == ''
    table, _, rest = out.partition('\n\naliases')
    rows = table.splitlines()[3:]
    assert [r.split()[0] for r in rows] == canonical_names()           # each rule once, canonical names only
    for row, entry in zip(rows, rule_table()):
        assert entry.display_name in row
        summary = entry.description.removeprefix(entry.display_name + ': ')   # the name is in its own column
        assert row.rstrip().endswith(summary[:1].upper() + summary[1:])     # a sentence: capital first letter
    assert 'es_d_rtrl' not in table and 'e_prop' not in table
    aliases = rest.split('\n\n')[0].splitlines()
    assert any(line.split()[0] == 'pp_prop' and 'es_d_rtrl' in line for line in aliases)
    assert "  pp_prop           decay_or_rank (required), normalized=False, bias_correction=False" in out
    compile_only = out.split("compile only (not in the lab's runner)\n")[1].splitlines()
    assert sorted(line.split()[0] for line in compile_only) == ['osttp', 'tbptt']


def test_rules_json_is_the_table(capsys):
    code, out, _ = run(capsys, 'rules', '--json')
    assert code == 0 and json.loads(out) == [e.to_dict() for e in rule_table()]
    code, out, _ = run(capsys, 'rules', '--path', 'cli', '--json')
    assert [d['name'] for d in json.loads(out)] == cli.valid_algorithms()


def test_one_rule_by_alias(capsys):
    code, out, _ = run(capsys, 'rules', 'ES-D-RTRL')
    assert code == 0
    assert out.splitlines()[0] == 'pp_prop: ES-D-RTRL (pp_prop)'
    assert 'aliases: es_d_rtrl' in out and 'options: decay_or_rank (required)' in out
    code, out, _ = run(capsys, 'rules', 'tbptt', '--json')
    assert code == 0 and json.loads(out) == lookup('tbptt').to_dict()
    code, out, _ = run(capsys, 'rules', 'osttp')
    assert "not in the lab's runner: it needs the target" in out


@pytest.mark.parametrize('argv', [('rules', 'magic'), ('compare', '--algorithms', 'magic')])
def test_unknown_rule_names_the_canonical_ones(capsys, argv):
    code, _, err = run(capsys, *argv)
    assert code == 2
    error = [line for line in err.splitlines() if 'error:' in line]
    assert len(error) == 1
    valid = error[0].split('valid algorithms: ')[1].split(' (aliases: ')[0]
    expected = canonical_names() if argv[0] == 'rules' else canonical_names('cli')
    assert valid.split(', ') == expected
