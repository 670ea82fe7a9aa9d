"""Static figures and names shared by the views and the report: display names, round labels, readable images."""
import numpy as np
import pytest

import braintrace_lab as bl
from braintrace_lab.lab import BPTT, figures


@pytest.mark.parametrize('name, options, title', [
    ('d_rtrl', None, 'D-RTRL'),
    ('bptt', None, 'BPTT'),
    ('pp_prop', {'decay_or_rank': 0.9}, 'ES-D-RTRL (a=0.9)'),
    ('pp_prop', None, 'ES-D-RTRL (pp_prop)'),                              # no option: the alias is shown
    ('pp_prop(0.5)', None, 'ES-D-RTRL (a=0.5)'),                            # a lab label
    ('pp_prop(rank 8)', None, 'ES-D-RTRL (rank 8)'),
    ('eprop', {'kappa': 0.5}, 'e-prop (kappa=0.5)'),
    ('eprop(feedback=random,kappa=0.9)', None, 'e-prop (feedback=random, kappa=0.9)'),
    ('ottt(mode=O)', None, 'OTTT (mode=O)'),
    ('ostl_recurrent(x=1)', None, 'OSTL (recurrent, x=1)'),
    ('foo(0.5)', None, 'foo(0.5)'),                                         # not a rule: unchanged
    ('ottt', None, 'OTTT'),
    ('my rule', None, 'my rule'),                                           # a custom label stays as it is
])
def test_rule_titles_are_display_names(name, options, title):
    assert figures.rule_title(name, options) == title


def test_learner_titles(trainer, make_lif):
    assert figures.learner_title(trainer.learner) == bl.D_RTRL.display_name == 'D-RTRL'
    assert figures.learner_title(BPTT(make_lif(2))) == 'BPTT'


def test_log_axis_labels_are_plain_round_numbers():
    fig = figures.new_figure(4, 3)
    ax = fig.subplots()
    x = np.arange(20)
    figures.plot_lines(ax, [('a', x, 10.0 ** -(x / 3))], title='t', ylabel='y', logy=True)
    figures.png_of(fig)                                                     # lays out and draws the ticks
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert labels and all('$' not in t for t in labels)                     # no mathtext
    assert set(labels) & {'1', '0.01', '1e-4', '1e-6'}, labels
    assert ax.xaxis.get_major_locator()._integer                            # steps: integer ticks


def test_heatmap_has_a_labelled_colour_bar_and_messages_fill_empty_axes():
    fig = figures.new_figure(4, 3)
    ax, empty = fig.subplots(1, 2)
    figures.plot_heatmap(fig, ax, np.arange(12.0).reshape(3, 4), title='m', xlabel='output unit',
                         ylabel='input unit', cbar_label='mean |ε|')
    bar = next(a for a in fig.get_axes() if a.get_ylabel() == 'mean |ε|')
    assert bar.get_ylim() == (0.0, 11.0)
    figures.show_message(empty, 'nothing to draw', title='e')
    assert empty.texts[0].get_text() == 'nothing to draw' and not empty.get_frame_on()
    png = figures.png_of(fig)
    assert png[:8] == b'\x89PNG\r\n\x1a\n' and figures.img_tag(png, alt='a <b>').startswith(
        '<img class="btl-static" alt="a &lt;b&gt;" src="data:image/png;base64,')
