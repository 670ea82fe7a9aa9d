"""GraphView: traits, simulated clicks from the browser, static rendering, errors shown not raised."""
import re

from braintrace_lab.lab import BPTT
from braintrace_lab.widgets import GraphView


def test_graph_traits_name_params_and_groups(trainer):
    view = GraphView(trainer.learner)
    assert view.param_names == ['w', 'readout.weight'] and view.group_names == ['g0']
    assert set(view.node_ids) == {'param:w', 'param:readout.weight', 'op:0', 'op:1', 'group:g0', 'output'}
    assert view.graph['excluded'][0]['param'] == 'readout.weight'
    assert view.error == '' and view.details == {}


def test_a_click_in_the_browser_shows_the_node_details(trainer, record_comm):
    view = GraphView(trainer.learner)
    rec = record_comm(view)
    view.set_state({'selected': 'param:w'})              # what the front end sends on a click
    assert view.details['regime'] == 'exact' and view.details['trace_memory_bytes'] > 0
    assert view.details['shapes'] == [[8], [4, 8]]
    sent = [s for s in rec.states() if 'details' in s]
    assert sent and sent[-1]['details']['name'] == 'w'     # the details went back to the browser
    assert view.select('g0')['states'] == ['neuron.V'] and view.selected == 'group:g0'
    view.set_state({'selected': ''})
    assert view.details == {}


def test_static_rendering_has_a_legend_and_the_rule_name(trainer):
    view = GraphView(trainer.learner.graph, algorithm='pp_prop')
    assert view.graph['rule'] == 'ES-D-RTRL (pp_prop)'
    html = view.to_html()
    assert '<svg' in html and 'readout.weight' in html and 'g0: neuron.V' in html and 'non_temporal' in html
    assert 'ES-D-RTRL (pp_prop): 1 hidden group(s)' in html
    svg = view.to_svg()
    assert svg.count('rx="6"') == 6                                   # one box per node
    for _, _, meaning in view.graph['legend']:                         # the legend says what each style means
        assert f'>{meaning.replace(">", "&gt;")}</text>' in svg
    assert len(view.graph['legend']) >= 6 and svg.count('class="btl-legend-item"') == len(view.graph['legend'])
    text = repr(view)
    assert text.startswith('GraphView(pp_prop: 1 hidden group(s)') and "params=['w', 'readout.weight']" in text
    assert not re.search(r'0x[0-9a-f]+', text)
    assert 'export{' in GraphView._esm.replace(' ', '') and '.btl-root' in GraphView._css


def test_the_output_carries_the_svg_for_exported_notebooks(trainer):
    view = GraphView(trainer.learner)
    assert view.graph['rule'] == 'D-RTRL'                             # the display name, not the class name
    data, _ = view.mime_bundle()
    assert 'application/vnd.jupyter.widget-view+json' in data
    assert data['image/svg+xml'] == view.to_svg() and data['image/svg+xml'].startswith('<svg')


def test_errors_are_shown_not_raised(trainer):
    view = GraphView(BPTT(trainer.model))                 # BPTT keeps no ETP graph
    assert 'no ETP graph' in view.error and view.graph == {}
    assert 'error' in repr(view) and 'btl-error' in view.to_html()
    view.set_state({'selected': 'param:nope'})            # unknown node: reported in the view
    assert "no node 'param:nope'" in view.error
