"""braintrace's learner attributes: the state maps are served, the others name what to use instead."""
import brainstate
import pytest

import braintrace_lab as bl
from braintrace_lab.models import get_fixture


@pytest.fixture(scope='module')
def learner():
    fx = get_fixture('lif')
    with fx.context():
        model = fx.build(batch_size=2)
        xs, _ = fx.data(T=3, batch_size=2)
        return bl.compile(model, 'd_rtrl', xs[0])


def test_state_maps_cover_every_state_once(learner):
    everything = learner.path_to_states
    params, hidden, others = learner.param_states, learner.hidden_states, learner.other_states
    assert len(params) + len(hidden) + len(others) == len(everything) > 0
    assert not any(isinstance(s, (brainstate.ParamState, brainstate.HiddenState)) for s in others.values())
    ids = learner.state_id_to_path
    assert {ids[id(st)] for st in everything.values()} == set(everything.keys())


@pytest.mark.parametrize('name, hint', [('report', 'learner.graph'), ('executor', 'learner.graph'),
                                        ('modulator', 'learner.rule'), ('decay', 'decay_or_rank')])
def test_braintrace_only_attributes_name_the_replacement(learner, name, hint):
    with pytest.raises(AttributeError, match=f"no '{name}' \\(a braintrace learner attribute\\); use .*{hint}"):
        getattr(learner, name)


def test_other_missing_attributes_stay_plain(learner):
    assert not hasattr(learner, 'no_such_thing')
    with pytest.raises(AttributeError, match="has no attribute 'no_such_thing'"):
        learner.no_such_thing
