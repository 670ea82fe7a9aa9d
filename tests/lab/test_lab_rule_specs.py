"""Rules written as text: options parsed and checked before anything is built, one name per rule."""
import pytest

from braintrace_lab.lab import parse_algorithms
from braintrace_lab.lab.rule_specs import RuleSpecError, format_rule, parse_rule, rule_names, unknown_rule_message


@pytest.mark.parametrize('text, parsed', [
    ('bptt', ('bptt', {})),
    ('pp_prop:0.5', ('pp_prop', {'decay_or_rank': 0.5})),
    ('ES-D-RTRL:8', ('es_d_rtrl', {'decay_or_rank': 8})),
    ('eprop:feedback=random:kappa=0.5', ('eprop', {'feedback': 'random', 'kappa': 0.5})),
    ('eprop:feedback=random:feedback_seed=3', ('eprop', {'feedback': 'random', 'feedback_seed': 3})),
    ('ottt:mode=O:decay=0.8', ('ottt', {'mode': 'O', 'decay': 0.8})),
    ('otpe:mode=approx', ('otpe', {'mode': 'approx'})),
    ('pp_prop:decay_or_rank=0.7:normalized=true', ('pp_prop', {'decay_or_rank': 0.7, 'normalized': True})),
    ('ostl_feedforward:decay=0.5', ('ostl_feedforward', {'decay': 0.5})),
])
def test_rule_texts_parse_and_read_back(text, parsed):
    assert parse_rule(text) == parsed
    assert parse_rule(format_rule(*parsed)) == parsed


def test_canonical_names_come_once_and_aliases_apart():
    canonical, aliases = rule_names()
    assert canonical[:4] == ['bptt', 'd_rtrl', 'pp_prop', 'eprop'] and len(set(canonical)) == len(canonical)
    assert aliases['es_d_rtrl'] == 'pp_prop' and aliases['e_prop'] == 'eprop' and aliases['param_dim'] == 'd_rtrl'
    assert not set(aliases) & set(canonical)
    msg = unknown_rule_message('magic')
    valid, _, rest = msg.partition(' (aliases: ')
    assert valid.startswith("unknown algorithm 'magic'; valid algorithms: bptt, d_rtrl, pp_prop, eprop")
    assert 'es_d_rtrl' not in valid and 'es_d_rtrl' in rest and 'e_prop = eprop' in rest
    assert 'osttp' not in valid and 'not in the lab runner: tbptt, osttp' in msg
    assert '\n' not in msg


@pytest.mark.parametrize('text, words', [
    ('magic', "unknown algorithm 'magic'; valid algorithms: bptt, d_rtrl"),
    ('eprop:feedbak=random', "eprop has no option 'feedbak'; valid options of eprop: feedback, kappa, feedback_seed"),
    ('eprop:kappa=2', 'kappa=2 must lie in [0, 1)'),
    ('eprop:feedback=rand', "choose 'symmetric', 'random'"),
    ('ottt:mode=Z', "choose 'A' (a = lam a + x) or 'O' (a = x)"),
    ('ottt:0.8', 'name the option, e.g. ottt:decay=0.8'),
    ('d_rtrl:0.5', 'd_rtrl takes no options'),
    ('pp_prop:1.5', 'a float decay must lie in (0, 1)'),
    ('pp_prop:x', 'decay_or_rank must be a float decay in (0, 1) or an int rank >= 1'),
    ('eprop:kappa=', "option 'kappa' has no value; write eprop:kappa=VALUE"),
    ('eprop:kappa=0.5:kappa=0.6', "option 'kappa' is given twice"),
    ('bptt:x=1', "bptt has no option 'x'; valid options of bptt: none"),
    ('eprop:vjp_method=multi-step', "eprop has no option 'vjp_method'"),   # implementation options stay in Python
    ('osttp', "algorithm 'osttp' cannot be compared in the lab runner"),
    ('', 'is empty'),
])
def test_bad_rule_texts_are_refused_with_the_fix(text, words):
    with pytest.raises(RuleSpecError) as exc:
        parse_rule(text)
    assert words in str(exc.value) and '\n' not in str(exc.value)
    assert isinstance(exc.value, ValueError)


def test_compare_takes_rule_texts_with_readable_labels():
    specs = parse_algorithms(['bptt', 'eprop:feedback=random:kappa=0.5', 'pp_prop:0.5', 'ottt:mode=O'])
    assert specs == [('bptt', 'bptt', {}),
                     ('eprop(feedback=random,kappa=0.5)', 'eprop', {'feedback': 'random', 'kappa': 0.5}),
                     ('pp_prop(0.5)', 'pp_prop', {'decay_or_rank': 0.5}),
                     ('ottt(mode=O)', 'ottt', {'mode': 'O'})]
    with pytest.raises(ValueError, match="eprop has no option 'kapa'"):
        parse_algorithms(['eprop:kapa=0.5'])
