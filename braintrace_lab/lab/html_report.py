"""The comparison report: a self-contained HTML page with its charts inline (SVG from matplotlib).

``render_report(comparison)`` turns a :class:`~braintrace_lab.lab.compare.Comparison`
into one HTML file (table, loss and accuracy curves, agreement with BPTT) that opens
offline: no scripts, no fetched assets. The table and the legends name each rule by its
display name (``D-RTRL``, ``ES-D-RTRL (a=0.9)``, ``e-prop (feedback=random, kappa=0.9)``).

An interrupted comparison (``comparison.interrupted``) is marked in the title and above
the table; a rule that diverged reads ``diverged`` in the table and its warning names the
step and parameter.

>>> comparison = compare_algorithms(fixture_model('leaky', task, n_hidden=6), task, ('bptt', 'd_rtrl'),
...                                 n_steps=4, batch_size=4, progress=False)
>>> page = render_report(comparison, meta={'model': 'leaky'})
"""
from __future__ import annotations

import html
import json
import math
from typing import Dict, Optional, Sequence

from .names import display_names

__all__ = ['render_report', 'report_chart']


# ---------------------------------------------------------------------------- charts
def _finite(v) -> bool:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v)


def _figures():
    """The :mod:`.figures` module, or ``None`` without matplotlib (an optional dependency)."""
    try:
        from . import figures
    except ImportError:
        return None
    return figures


def report_chart(title: str, series: Sequence[tuple], ylabel: str, logy: bool = False,
                 hline: Optional[float] = None, colors: Optional[Dict[str, str]] = None, chart_id: str = 'c',
                 bands: Optional[Dict[str, tuple]] = None) -> str:
    """One chart of ``series = [(label, steps, values), ...]`` as inline SVG (matplotlib).

    ``bands``: ``{label: (steps, lo, hi)}`` shaded around that series (the 95 % interval over seeds).

    Its element ids start with ``btl-<chart_id>-`` (unique in the page); each series is the
    group ``btl-<chart_id>-series-<i>``. Without matplotlib (``pip install
    braintrace-lab[lab]``) a note says so instead.
    """
    figures = _figures()
    if figures is None:
        return (f'<p class="note btl-chart-missing">{html.escape(title)}: no chart without matplotlib '
                f'(pip install braintrace-lab[lab]).</p>')
    fig = figures.new_figure(4.8, 3.6)
    figures.plot_lines(fig.subplots(), series, title=title, xlabel='training step', ylabel=ylabel, logy=logy,
                       hline=hline, colors=colors, legend='below', bands=bands)
    return figures.svg_of(fig, title=title, id_prefix=f'btl-{chart_id}-')


def _rule_titles(comparison, labels) -> Dict[str, str]:
    """``{label: display name}`` from the comparison's config (:func:`.names.display_names`)."""
    return display_names(labels, comparison.config.get('algorithms', []))


# ---------------------------------------------------------------------------- the report
_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1000px;
       color: #222; padding: 0 16px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table.btl-table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
table.btl-table th, table.btl-table td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: right; }
table.btl-table th:first-child, table.btl-table td:first-child { text-align: left; }
table.btl-info td:last-child { text-align: left; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
.note { color: #555; font-size: 0.92em; } .warn { color: #9b1c1c; }
code { background: #f4f4f4; padding: 1px 4px; border-radius: 3px; }
"""


def _json_safe(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    return str(obj)


def _interrupted_note(comparison) -> str:
    n = comparison.config.get('n_steps')
    done = ', '.join(f'{r.get("display_name") or r["algorithm"]} {r.get("n_steps", "?")}'
                     for r in comparison.rows) or 'none'
    return (f'<p class="warn" id="btl-interrupted">Interrupted: training was stopped before the end; the table '
            f'and curves show the steps that finished ({html.escape(done)} of {html.escape(str(n))}).</p>\n')


def render_report(comparison, title: str = 'braintrace-lab: algorithm comparison', meta: Optional[dict] = None) -> str:
    """A self-contained HTML page (inline CSS and SVG, no scripts to fetch) for a Comparison."""
    missing = [a for a in ('rows', 'curves', 'records', 'config', 'task', 'to_html') if not hasattr(comparison, a)]
    if missing:
        raise TypeError(f'render_report needs a Comparison (the result of compare_algorithms), got '
                        f'{type(comparison).__name__} without {", ".join(missing)}; pass e.g. '
                        f'render_report(compare_algorithms(...)).')
    esc = html.escape
    interrupted = bool(getattr(comparison, 'interrupted', False))
    if interrupted:
        title = f'{title} (interrupted)'
    curves = comparison.curves
    labels = list(curves)
    online = [k for k in labels if any(_finite(c) for c in curves[k].get('cosine', []))]

    names = _rule_titles(comparison, labels)
    palette = getattr(_figures(), 'PALETTE', ('#333',))
    colors = {names[k]: palette[i % len(palette)] for i, k in enumerate(labels)}

    def series(key, keys=labels):
        return [(names[k], curves[k]['steps'], curves[k].get(key, [])) for k in keys]

    def bands(key, keys=labels):            # several seeds: the 95 % interval of each mean curve
        out = {}
        for k in keys:
            band = (curves[k].get('band') or {}).get(key)
            if band:
                out[names[k]] = (curves[k]['steps'], band['lo'], band['hi'])
        return out

    chance = (meta or {}).get('chance_level')
    charts = [
        report_chart('training loss', series('loss'), ylabel='loss (log scale)', logy=True, colors=colors,
                     chart_id='loss', bands=bands('loss')),
        report_chart('accuracy', series('accuracy'), ylabel='accuracy (fraction correct)', hline=chance,
                     colors=colors, chart_id='accuracy', bands=bands('accuracy')),
    ]
    agreement_charts = [
        report_chart('cosine to the BPTT gradient', series('cosine', online), ylabel='cosine similarity',
                     colors=colors, chart_id='cosine', bands=bands('cosine', online)),
        report_chart('relative error to the BPTT gradient', series('relative_error', online),
                     ylabel='‖g − g*‖ / ‖g*‖ (log scale)', logy=True, colors=colors, chart_id='relerr'),
    ]
    warnings = sorted({w for rec in comparison.records.values() for w in rec.warnings})
    cfg = dict(comparison.config)
    meta = dict(meta or {})
    info = [('task', comparison.task), ('status', 'interrupted' if interrupted else 'finished'),
            ('model', meta.get('model', '')),
            ('training steps', cfg.get('n_steps')), ('batch size', cfg.get('batch_size')),
            ('seed', cfg.get('seed')), ('oracle', cfg.get('oracle')),
            ('wall time', f'{cfg.get("wall_time_s", float("nan")):.1f} s'),
            ('written', meta.get('written', '')), ('command', meta.get('command', ''))]
    info_rows = ''.join(f'<tr><td>{esc(str(k))}</td><td>{esc(str(v))}</td></tr>' for k, v in info if v not in (None, ''))
    data = json.dumps(_json_safe({'task': comparison.task, 'rows': comparison.rows, 'curves': curves,
                                  'config': cfg, 'meta': meta, 'interrupted': interrupted}))
    data = data.replace('</', '<\\/')
    warn_html = ''.join(f'<p class="warn">{esc(w)}</p>' for w in warnings)
    agreement_note = ('' if online else '<p class="note">No online rule was compared with BPTT '
                      '(the oracle runs only for online rules).</p>')
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{esc(title)}</title>
<style>{_CSS}</style></head>
<body>
<h1>{esc(title)}</h1>
<p class="note">Each algorithm trains a fresh copy of the same model (same initial weights) on the same
batches. The learning curves show loss and accuracy on the training batch of each recorded step; the
table's held-out accuracy is measured after training on the task's evaluation set, sequences never
trained on. Cosine and relative
error compare each online rule's summed gradient <code>g = &sum;<sub>t</sub> dL<sup>t</sup>/d&theta;</code>
with the exact BPTT gradient on the same batch and weights.</p>
<h2>Comparison</h2>
{_interrupted_note(comparison) if interrupted else ''}{comparison.to_html()}
<h2>Learning curves</h2>
<div class="charts">{''.join(charts)}</div>
<p class="note">A rule whose gradient equals BPTT's (an exact regime, such as D-RTRL on a leaky
integrator) follows the same curve, so the later line hides the earlier one. With several seeds each
line is the mean over the seeds and its shade the 95 % interval of that mean.</p>
<h2>Agreement with BPTT</h2>
{agreement_note}<div class="charts">{''.join(agreement_charts)}</div>
{('<h2>Warnings</h2>' + warn_html) if warnings else ''}
<h2>Configuration</h2>
<table class="btl-table btl-info">{info_rows}</table>
<script type="application/json" id="btl-data">{data}</script>
</body></html>
"""


