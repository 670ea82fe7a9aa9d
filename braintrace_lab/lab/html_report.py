"""The comparison report: a self-contained HTML page with inline SVG line charts.

``render_report(comparison)`` turns a :class:`~braintrace_lab.lab.compare.Comparison`
into one HTML file (table, loss and accuracy curves, agreement with BPTT) that opens
offline: no scripts, no fetched assets. ``svg_line_chart`` draws one chart.

An interrupted comparison (``comparison.interrupted``) is marked in the title and above
the table; a rule that diverged reads ``diverged`` in the table and its warning names the
step and parameter.

>>> page = render_report(comparison, meta={'model': 'lif'})
"""
from __future__ import annotations

import html
import json
import math
from typing import Dict, List, Optional, Sequence

__all__ = ['render_report', 'svg_line_chart']


# ---------------------------------------------------------------------------- SVG charts
PALETTE = ('#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf')


def _finite(v) -> bool:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v)


def _ticks(lo: float, hi: float, n: int = 5) -> List[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = min((s * mag for s in (1, 2, 2.5, 5, 10) if s * mag >= raw), default=raw)
    start = math.ceil(lo / step) * step
    out, v = [], start
    while v <= hi + 1e-12 * abs(hi) and len(out) < 20:
        out.append(round(v, 12))
        v += step
    return out


def _fmt_tick(v: float) -> str:
    if v == 0:
        return '0'
    if abs(v) >= 1e4 or abs(v) < 1e-3:
        return f'{v:.0e}'
    return f'{v:.4g}'


def _log_ticks(y0: float, y1: float) -> List[float]:
    """Tick positions (in log10 units) between ``y0`` and ``y1``: decades, else 1-2-5 steps."""
    decades = [float(e) for e in range(math.ceil(y0), math.floor(y1) + 1)]
    if len(decades) >= 3:
        return decades
    out = [math.log10(k * 10.0 ** e) for e in range(math.floor(y0) - 1, math.ceil(y1) + 1) for k in (1, 2, 5)]
    out = [t for t in out if y0 <= t <= y1]
    return out if len(out) >= 2 else [math.log10(v) for v in _ticks(10 ** y0, 10 ** y1) if v > 0]


def svg_line_chart(title: str, series: Sequence[tuple], xlabel: str = 'training step', ylabel: str = '',
                   logy: bool = False, width: int = 470, height: int = 280, hline: Optional[float] = None,
                   colors: Optional[Dict[str, str]] = None) -> str:
    """A self-contained SVG line chart of ``series = [(label, xs, ys), ...]`` (NaNs are gaps).

    ``logy`` plots ``log10(y)`` for positive ``y``; ``hline`` draws a dashed reference line;
    ``colors`` maps labels to colours (default: the palette in series order).
    """
    ml, mr, mt, mb = 56, 112, 28, 42
    pw, ph = width - ml - mr, height - mt - mb
    pts = []
    for label, xs, ys in series:
        clean = []
        for x, y in zip(xs, ys):
            if _finite(x) and _finite(y) and (not logy or y > 0):
                clean.append((float(x), math.log10(y) if logy else float(y)))
            else:
                clean.append(None)
        pts.append((label, clean))
    vals = [p for _, c in pts for p in c if p is not None]
    esc = html.escape
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="btl-chart" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}">',
             f'<text x="{width / 2:.1f}" y="17" text-anchor="middle" font-size="13" font-weight="bold">'
             f'{esc(title)}</text>']
    if not vals:
        parts.append(f'<text x="{width / 2:.1f}" y="{height / 2:.1f}" text-anchor="middle" font-size="12" '
                     f'fill="#777">no data</text></svg>')
        return ''.join(parts)
    x0, x1 = min(p[0] for p in vals), max(p[0] for p in vals)
    y0, y1 = min(p[1] for p in vals), max(p[1] for p in vals)
    if hline is not None and (not logy or hline > 0):
        h = math.log10(hline) if logy else hline
        y0, y1 = min(y0, h), max(y1, h)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    if y1 == y0:
        pad = abs(y0) * 0.1 or 1.0
        y0, y1 = y0 - pad, y1 + pad
    pad = (y1 - y0) * 0.05
    y0, y1 = y0 - pad, y1 + pad
    sx = lambda x: ml + (x - x0) / (x1 - x0) * pw
    sy = lambda y: mt + ph - (y - y0) / (y1 - y0) * ph
    parts.append(f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="none" stroke="#bbb"/>')
    yt = _log_ticks(y0, y1) if logy else _ticks(y0, y1)
    for t in yt:
        y = sy(t)
        label = _fmt_tick(10 ** t) if logy else _fmt_tick(t)
        parts.append(f'<line x1="{ml}" x2="{ml + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
                     f'<text x="{ml - 5}" y="{y + 4:.1f}" text-anchor="end" font-size="10">{label}</text>')
    for t in _ticks(x0, x1):
        x = sx(t)
        parts.append(f'<text x="{x:.1f}" y="{mt + ph + 14}" text-anchor="middle" font-size="10">'
                     f'{_fmt_tick(t)}</text>')
    parts.append(f'<text x="{ml + pw / 2:.1f}" y="{height - 8}" text-anchor="middle" font-size="11">'
                 f'{esc(xlabel)}</text>')
    if ylabel:
        parts.append(f'<text x="13" y="{mt + ph / 2:.1f}" text-anchor="middle" font-size="11" '
                     f'transform="rotate(-90 13 {mt + ph / 2:.1f})">{esc(ylabel)}{" (log)" if logy else ""}</text>')
    if hline is not None and (not logy or hline > 0):
        y = sy(math.log10(hline) if logy else hline)
        parts.append(f'<line x1="{ml}" x2="{ml + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#888" '
                     f'stroke-dasharray="4 3"/>')
    for i, (label, clean) in enumerate(pts):
        color = (colors or {}).get(label) or PALETTE[i % len(PALETTE)]
        segs, cur = [], []
        for p in clean:
            if p is None:
                if cur:
                    segs.append(cur)
                cur = []
            else:
                cur.append(p)
        if cur:
            segs.append(cur)
        for seg in segs:
            d = ' '.join(f'{sx(x):.1f},{sy(y):.1f}' for x, y in seg)
            if len(seg) == 1:
                x, y = seg[0]
                parts.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{color}"/>')
            else:
                parts.append(f'<polyline class="btl-series" data-label="{esc(label)}" points="{d}" fill="none" '
                             f'stroke="{color}" stroke-width="1.8"/>')
        ly = mt + 10 + 15 * i
        parts.append(f'<line x1="{ml + pw + 8}" x2="{ml + pw + 24}" y1="{ly - 4}" y2="{ly - 4}" '
                     f'stroke="{color}" stroke-width="2"/><text x="{ml + pw + 28}" y="{ly}" font-size="10">'
                     f'{esc(label)}</text>')
    parts.append('</svg>')
    return ''.join(parts)


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
    done = ', '.join(f'{r["algorithm"]} {r.get("n_steps", "?")}' for r in comparison.rows) or 'none'
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

    colors = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(labels)}

    def series(key, keys=labels):
        return [(k, curves[k]['steps'], curves[k].get(key, [])) for k in keys]

    chance = (meta or {}).get('chance_level')
    charts = [
        svg_line_chart('training loss', series('loss'), ylabel='loss', logy=True, colors=colors),
        svg_line_chart('accuracy', series('accuracy'), ylabel='accuracy', hline=chance, colors=colors),
    ]
    agreement_charts = [
        svg_line_chart('cosine to the BPTT gradient', series('cosine', online), ylabel='cosine', colors=colors),
        svg_line_chart('relative error to the BPTT gradient', series('relative_error', online),
                       ylabel='relative error', logy=True, colors=colors),
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
batches. Loss and accuracy are measured on the training batch of each recorded step. Cosine and relative
error compare each online rule's summed gradient <code>g = &sum;<sub>t</sub> dL<sup>t</sup>/d&theta;</code>
with the exact BPTT gradient on the same batch and weights.</p>
<h2>Comparison</h2>
{_interrupted_note(comparison) if interrupted else ''}{comparison.to_html()}
<h2>Learning curves</h2>
<div class="charts">{''.join(charts)}</div>
<p class="note">A rule whose gradient equals BPTT's (an exact regime, such as D-RTRL on a leaky
integrator) follows the same curve, so the later line hides the earlier one.</p>
<h2>Agreement with BPTT</h2>
{agreement_note}<div class="charts">{''.join(agreement_charts)}</div>
{('<h2>Warnings</h2>' + warn_html) if warnings else ''}
<h2>Configuration</h2>
<table class="btl-table btl-info">{info_rows}</table>
<script type="application/json" id="btl-data">{data}</script>
</body></html>
"""


