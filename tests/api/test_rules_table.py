"""The algorithm table: one record per registered rule, read by compile, the lab, the CLI and the widgets."""
import dataclasses
import json

import pytest

import braintrace_lab as bl
from braintrace_lab import cli
from braintrace_lab.algorithms.presets import ParamDimVjpAlgorithm
from braintrace_lab.lab.rule_specs import RuleSpecError, parse_rule, rule_names
from braintrace_lab.registry import _REGISTRY, resolve_algorithm
from braintrace_lab.rules_table import (PATHS, RuleEntry, UnknownRuleError, canonical_name, canonical_names, find,
                                        lookup, register_algorithm, rule_table, unknown_rule_message)


def test_every_registered_name_is_in_exactly_one_record():
    table = rule_table()
    names = [n for e in table for n in e.names]
    assert sorted(names) == sorted(_REGISTRY) and len(set(names)) == len(names)
    assert {e.rule for e in table} == set(_REGISTRY.values()) and len(table) == len(set(_REGISTRY.values()))
    for name, cls in _REGISTRY.items():
        assert find(name).rule is cls and resolve_algorithm(name) is cls
    assert table[0].name == 'bptt'                      # the exact reference first, then registration order
    assert canonical_names()[:4] == ['bptt', 'd_rtrl', 'pp_prop', 'eprop']


def test_a_record_holds_what_the_rule_class_says():
    pp = lookup('ES-D-RTRL')                                # an alias, with '-' for '_' and any case
    assert pp.name == 'pp_prop' and canonical_name('io-dim') == 'pp_prop'
    assert pp.display_name == bl.pp_prop.display_name == 'ES-D-RTRL (pp_prop)'
    assert pp.description == bl.pp_prop.__doc__.strip().splitlines()[0].replace('``', '')
    assert set(pp.aliases) >= {'es_d_rtrl', 'esd_rtrl', 'iodimvjpalgorithm', 'io_dim'} and 'pp_prop' not in pp.aliases
    opts = {o.name: o for o in pp.options}
    assert opts['decay_or_rank'].required and not opts['normalized'].required and opts['normalized'].default is False
    assert pp.implementation_options == ('name', 'vjp_method', 'trace_dtype')
    assert not set(pp.implementation_options) & set(pp.option_names)
    eprop = lookup('e_prop')
    assert [(o.name, o.default) for o in eprop.options][:3] == [('feedback', 'symmetric'), ('kappa', 0.0),
                                                                 ('feedback_seed', 0)]


def test_records_are_frozen_readable_and_plain():
    entry = lookup('pp_prop')
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.name = 'x'
    text = repr(entry)
    assert text.startswith("RuleEntry('pp_prop', 'ES-D-RTRL (pp_prop)'") and 'decay_or_rank (required)' in text
    assert 'normalized=False' in text and ' at 0x' not in text
    for e in rule_table():
        d = e.to_dict()
        assert json.loads(json.dumps(d)) == d
        assert d['name'] == e.name and d['aliases'] == list(e.aliases) and d['class'].endswith(e.rule.__name__)


def test_paths_follow_what_each_rule_needs():
    assert lookup('d_rtrl').paths == tuple(PATHS)
    tbptt, osttp, bptt = lookup('tbptt'), lookup('osttp'), lookup('bptt')
    assert tbptt.paths == ('compile',) and 'windows of inputs' in tbptt.lab_refusal
    assert osttp.paths == ('compile',) and 'target' in osttp.lab_refusal
    assert 'agreement' not in bptt.paths and bptt.drives('cli') and bptt.lab_refusal == ''
    assert [e.name for e in rule_table('cli')] == cli.valid_algorithms()
    with pytest.raises(ValueError, match="'tbptt' cannot be used in lab.train.*windows of inputs"):
        lookup('tbptt', 'train')
    with pytest.raises(ValueError, match='unknown path'):
        rule_table('somewhere')


def test_unknown_names_list_canonical_names_with_aliases_apart():
    for raise_it in (lambda: bl.compile(None, 'dtrl'), lambda: lookup('dtrl'),
                     lambda: resolve_algorithm('dtrl')):
        with pytest.raises(ValueError) as exc:
            raise_it()
        valid, _, aliases = str(exc.value).partition(' (aliases: ')
        assert valid == f"unknown algorithm 'dtrl'; valid algorithms: {', '.join(canonical_names())}"
        assert 'es_d_rtrl' in aliases and 'param_dim' in aliases and '\n' not in str(exc.value)
    assert isinstance(UnknownRuleError('x'), ValueError)
    assert unknown_rule_message('x', 'cli').endswith('; not in the lab runner: tbptt, osttp')


class _Probe(ParamDimVjpAlgorithm):
    """Probe rule: D-RTRL under another name, registered by a test."""
    display_name = 'Probe-RTRL'

    def __init__(self, model, leak: float = 0.5, name=None, vjp_method='single-step', trace_dtype=None):
        super().__init__(model, name=name, vjp_method=vjp_method, trace_dtype=trace_dtype)
        self.leak = leak


class _NeedsReward(_Probe):
    """Probe rule that needs a reward at every step."""
    display_name = 'Reward-Probe'
    runner_needs = 'a reward at every step'


@pytest.fixture
def registered():
    """Two rules registered the way a new rule is (one call each), removed afterwards."""
    before = dict(_REGISTRY)
    register_algorithm(_Probe, 'probe_rtrl', 'probe')
    register_algorithm(_NeedsReward, 'reward_probe')
    yield
    _REGISTRY.clear()
    _REGISTRY.update(before)


def test_a_newly_registered_rule_reaches_every_path_with_no_second_list(registered, capsys):
    entry = lookup('Probe-RTRL')
    assert (entry.name, entry.aliases, entry.display_name) == ('probe_rtrl', ('probe',), 'Probe-RTRL')
    assert entry.description == 'Probe rule: D-RTRL under another name, registered by a test.'
    assert repr(entry.options) == '(leak=0.5,)' and entry.paths == tuple(PATHS)
    assert 'probe_rtrl' in cli.valid_algorithms() and 'probe_rtrl' in rule_names()[0]
    assert rule_names()[1]['probe'] == 'probe_rtrl'
    assert parse_rule('probe:leak=0.25') == ('probe', {'leak': 0.25})
    with pytest.raises(RuleSpecError, match="valid options of probe_rtrl: leak"):
        parse_rule('probe_rtrl:decay=0.25')
    reward = lookup('reward_probe')
    assert reward.paths == ('compile',) and reward.lab_refusal == ('it needs a reward at every step, which the '
                                                                   'runner does not feed')
    with pytest.raises(RuleSpecError, match="cannot be compared in the lab runner: it needs a reward"):
        parse_rule('reward_probe')
    assert 'probe_rtrl' in unknown_rule_message('x', 'cli') and 'reward_probe' not in cli.valid_algorithms()
    assert cli.main(['rules']) == 0
    out = capsys.readouterr().out
    assert any(line.split()[:2] == ['probe_rtrl', 'Probe-RTRL'] for line in out.splitlines())
    assert 'reward_probe' in out.split("compile only (not in the lab's runner)")[1]
