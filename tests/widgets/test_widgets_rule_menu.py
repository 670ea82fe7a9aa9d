"""The widgets' rule menus read the algorithm table: canonical names once, display names shown, bad rules refused."""
import pytest

from braintrace_lab.rules_table import UnknownRuleError, lookup
from braintrace_lab.widgets import GradientAgreement


def test_agreement_menu_offers_each_rule_once_by_canonical_name():
    view = GradientAgreement(None, 'leaky', algorithms=('ES-D-RTRL', 'd_rtrl', 'pp-prop', 'e_prop'),
                             algorithm='es_d_rtrl', compute=False)
    assert view.algorithms == ('pp_prop', 'd_rtrl', 'eprop') and view.algorithm == 'pp_prop'
    values = [value for _, value in view.controls['algorithm'].options]
    assert values == ['pp_prop', 'd_rtrl', 'eprop']
    titles = [title for title, _ in view.controls['algorithm'].options]
    assert titles[1:] == [lookup('d_rtrl').display_name, lookup('eprop').display_name]


@pytest.mark.parametrize('menu, error, words', [
    (('d_rtrl', 'tbptt'), ValueError, 'windows of inputs'),
    (('osttp',), ValueError, 'needs the target'),
    (('d_rtrl', 'magic'), UnknownRuleError, "unknown algorithm 'magic'; valid algorithms: d_rtrl, pp_prop"),
])
def test_agreement_menu_refuses_rules_it_cannot_drive(menu, error, words):
    with pytest.raises(error, match=words):
        GradientAgreement(None, 'leaky', algorithms=menu, compute=False)
