"""Static figures drawn with matplotlib: line charts, scatter plots and heatmaps with colour bars.

The HTML report embeds them as inline SVG (:func:`svg_of`), the widgets' static renderings
as PNG (:func:`png_of`), so exported pages show readable charts without scripts: round
ticks and axis titles from matplotlib, legends beside the plot. No pyplot: every figure
is a ``matplotlib.figure.Figure``, independent of any GUI backend. :func:`rule_title`
names a rule as people know it (``'D-RTRL'``, ``'ES-D-RTRL (a=0.9)'``).

>>> steps, loss = [0, 10, 20], [0.69, 0.52, 0.41]
>>> fig = new_figure(5.6, 3.0)
>>> plot_lines(fig.subplots(), [('bptt', steps, loss)], title='training loss',
...            xlabel='training step', ylabel='loss', logy=True)
>>> page_svg = svg_of(fig, title='training loss')
"""
from __future__ import annotations

import base64
import html
import io
import math
import re
from typing import Dict, Optional, Sequence

import matplotlib
import numpy as np
from matplotlib import ticker
from matplotlib.figure import Figure

from .names import display_name

__all__ = ['PALETTE', 'rule_title', 'learner_title', 'new_figure', 'plot_lines', 'plot_scatter', 'plot_heatmap',
           'show_message', 'svg_of', 'png_of', 'img_tag']

PALETTE = ('#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2')
STYLE = {'font.size': 9, 'axes.titlesize': 10, 'axes.titleweight': 'bold', 'axes.labelsize': 9,
         'legend.fontsize': 8, 'axes.spines.top': False, 'axes.spines.right': False, 'axes.grid': True,
         'grid.color': '#e6e6e6', 'grid.linewidth': 0.8, 'svg.fonttype': 'none',
         'svg.hashsalt': 'braintrace-lab', 'figure.dpi': 100, 'axes.prop_cycle': matplotlib.cycler(color=PALETTE)}


# ---------------------------------------------------------------------------- names
def rule_title(name: str, options: Optional[dict] = None) -> str:
    """The rule's display name with its options: ``'D-RTRL'``, ``'ES-D-RTRL (a=0.9)'``.

    ``name`` is a registered name (``'pp_prop'``) or a lab label (``'pp_prop(0.9)'``);
    anything else (a custom label) comes back unchanged (:func:`.names.display_name`).
    """
    return display_name(name, options or None)


def learner_title(learner) -> str:
    """Display name of a learner's rule (``'D-RTRL'``); the class name when it has none of its own."""
    cls = type(learner)
    title = getattr(cls, 'display_name', None)
    if title and title != 'online rule':
        return title
    name = getattr(learner, 'name', None)
    return rule_title(name) if isinstance(name, str) else cls.__name__


# ---------------------------------------------------------------------------- drawing
def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width x height`` inches in the house style (applied while drawing and saving)."""
    with matplotlib.rc_context(STYLE):
        return Figure(figsize=(width, height), layout='constrained')


class _LogLabels(ticker.LogFormatter):
    """Log-axis labels as the live charts write them: 0.2, 0.5, 20 between 0.001 and 10000, else 1e-7, 2e5.

    Which ticks get a label is matplotlib's choice; the text is plain (no mathtext to typeset).
    """

    def __call__(self, x, pos=None):
        if not super().__call__(x, pos):
            return ''
        if 1e-3 <= abs(x) < 1e4:
            return f'{x:g}'
        mantissa, exponent = f'{x:.1e}'.split('e')
        return f'{mantissa.rstrip("0").rstrip(".")}e{int(exponent)}'


def _log_axis(axis):
    axis.set_major_locator(ticker.LogLocator(base=10, numticks=8))
    axis.set_minor_locator(ticker.LogLocator(base=10, subs=(2.0, 5.0), numticks=8))
    axis.set_major_formatter(_LogLabels())
    axis.set_minor_formatter(_LogLabels(labelOnlyBase=False, minor_thresholds=(1.0, 0.6)))


def _legend(ax, n: int, where: str):
    """A legend outside the plot: to the right (``'right'``) or under the x-axis title (``'below'``)."""
    if not n or where not in ('right', 'below'):
        return
    if where == 'right':
        ax.legend(loc='upper left', bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False, handlelength=1.6)
    else:
        ax.legend(loc='upper center', bbox_to_anchor=(0.5, -0.2), borderaxespad=0.0, frameon=False,
                  handlelength=1.6, ncol=min(n, 2))


def share_legend(fig, axes) -> bool:
    """One legend under the figure when every panel's legend names the same lines.

    Side-by-side panels of the same rules would otherwise each spend a third of their width
    on a copy of one legend. Returns whether the legends were merged.
    """
    legends = [ax.get_legend() for ax in axes]
    if len(legends) < 2 or any(leg is None for leg in legends):
        return False
    labels = [[t.get_text() for t in leg.get_texts()] for leg in legends]
    if any(lab != labels[0] for lab in labels[1:]):
        return False
    handles = legends[0].legend_handles
    for leg in legends:
        leg.remove()
    with matplotlib.rc_context(STYLE):
        fig.legend(handles, labels[0], loc='outside lower center', ncol=min(len(labels[0]), 3), frameon=False)
    return True


def _finite_xy(x, y, logy: bool):
    x, y = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
    n = min(x.size, y.size)
    x, y = x[:n], y[:n].copy()
    y[~np.isfinite(y) | ((y <= 0) & logy)] = np.nan            # gaps
    return x, y


def plot_lines(ax, series: Sequence[tuple], title: str = '', xlabel: str = 'training step', ylabel: str = '',
               logy: bool = False, hline: Optional[float] = None, hline_label: str = 'chance level',
               colors: Optional[Dict[str, str]] = None, ylim: Optional[tuple] = None, legend: str = 'right',
               bands: Optional[Dict[str, tuple]] = None, dashes: Optional[Dict[str, tuple]] = None) -> int:
    """Lines of ``series = [(label, xs, ys), ...]`` (NaNs are gaps; short series get markers).

    ``legend``: ``'right'``, ``'below'`` (both outside the plot) or ``''``. ``bands``:
    ``{label: (xs, lo, hi)}`` shades the region between ``lo`` and ``hi`` around that
    line in its colour (e.g. an interval over seeds); ``dashes``: ``{label: (on, off, ...)}``
    draws that line dashed (a reference drawn over a line it may hide). Returns how many series had a finite
    point; with none, the axes say ``no data``.
    """
    with matplotlib.rc_context(STYLE):
        drawn = 0
        for i, (label, xs, ys) in enumerate(series):
            x, y = _finite_xy(xs, ys, logy)
            ok = np.isfinite(y) & np.isfinite(x)
            if not ok.any():
                continue
            color = (colors or {}).get(label) or PALETTE[i % len(PALETTE)]
            if label in (bands or {}):
                _fill_band(ax, bands[label], logy, color)
            few = ok.sum() <= 12
            dash = (dashes or {}).get(label)
            ax.plot(x, y, color=color, lw=1.6, label=label, marker='o' if few else None, ms=3.5,
                    gid=f'series-{i}', **({'dashes': tuple(dash)} if dash else {}))
            drawn += 1
        if hline is not None and (not logy or hline > 0):
            ax.axhline(hline, color='#888', ls='--', lw=1, label=hline_label)
        if logy and drawn:
            ax.set_yscale('log')
            _log_axis(ax.yaxis)
        xs = [np.asarray(x, float) for _, x, _ in series]
        if drawn and all(np.all(np.isnan(x) | (x == np.round(x))) for x in xs):
            ax.xaxis.set_major_locator(ticker.MaxNLocator(nbins=5, integer=True, steps=[1, 2, 2.5, 5, 10]))  # round steps
        if ylim is not None:
            ax.set_ylim(*ylim)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if not drawn:
            show_message(ax, 'no data')
        else:
            _legend(ax, drawn + (hline is not None), legend)
    return drawn


def _fill_band(ax, band: tuple, logy: bool, color: str):
    """Shade between the ``(xs, lo, hi)`` of ``band`` (gaps where either bound is missing)."""
    x, lo = _finite_xy(band[0], band[1], logy)
    _, hi = _finite_xy(band[0], band[2], logy)
    n = min(x.size, lo.size, hi.size)
    x, lo, hi = x[:n], lo[:n], hi[:n]
    ok = np.isfinite(x) & np.isfinite(lo) & np.isfinite(hi)
    if ok.any():
        ax.fill_between(x, lo, hi, where=ok, color=color, alpha=0.2, lw=0, interpolate=False)


def plot_scatter(ax, series: Sequence[tuple], title: str = '', xlabel: str = '', ylabel: str = '',
                 diagonal: bool = True, legend: str = 'right') -> int:
    """Points of ``series = [(label, xs, ys), ...]`` on equal axes, with the line ``y = x``."""
    with matplotlib.rc_context(STYLE):
        lo, hi, drawn = math.inf, -math.inf, 0
        for i, (label, xs, ys) in enumerate(series):
            x, y = _finite_xy(xs, ys, False)
            ok = np.isfinite(x) & np.isfinite(y)
            if not ok.any():
                continue
            ax.scatter(x[ok], y[ok], s=9, color=PALETTE[i % len(PALETTE)], label=label, alpha=0.8, lw=0)
            lo, hi = min(lo, x[ok].min(), y[ok].min()), max(hi, x[ok].max(), y[ok].max())
            drawn += 1
        if drawn and diagonal:
            if hi == lo:
                lo, hi = lo - 1, hi + 1
            ax.plot([lo, hi], [lo, hi], color='#888', ls='--', lw=1, label='y = x')
            ax.set_aspect('equal', adjustable='datalim')
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if drawn:
            _legend(ax, drawn + 1, legend)
        else:
            show_message(ax, 'no data')
    return drawn


def plot_heatmap(fig, ax, values, title: str = '', xlabel: str = 'column', ylabel: str = 'row',
                 cbar_label: str = 'value'):
    """``values`` (2-D) as an image, row 0 at the top, with a labelled colour bar."""
    with matplotlib.rc_context(STYLE):
        a = np.asarray(values, float)
        vmax = float(np.nanmax(a)) if a.size and np.isfinite(a).any() else 0.0
        im = ax.imshow(a, cmap='viridis', vmin=0.0, vmax=vmax if vmax > 0 else 1.0, aspect='auto',
                       interpolation='nearest')
        ax.grid(False)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.yaxis.get_major_locator().set_params(integer=True)
        bar = fig.colorbar(im, ax=ax, fraction=0.08, pad=0.03)
        bar.set_label(cbar_label)
    return im


def show_message(ax, text: str, title: Optional[str] = None):
    """Write ``text`` in the middle of otherwise empty axes (why there is nothing to draw)."""
    with matplotlib.rc_context(STYLE):
        ax.text(0.5, 0.5, text, ha='center', va='center', transform=ax.transAxes, color='#555', wrap=True)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        ax.set_frame_on(False)
        if title is not None:
            ax.set_title(title)


# ---------------------------------------------------------------------------- output
def svg_of(fig, title: str = '', id_prefix: str = '') -> str:
    """The figure as an inline ``<svg>`` element (text kept as text; no XML prolog).

    ``id_prefix`` is put before every element id (and the references to them), so that
    several figures can share one HTML page without duplicate ids.
    """
    buf = io.StringIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(buf, format='svg', metadata={'Date': None, 'Creator': None})
    text = buf.getvalue()
    text = text[text.index('<svg'):]
    if id_prefix:
        text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{id_prefix}{m.group(1)}"', text)
        text = re.sub(r'url\(#([^)]+)\)', lambda m: f'url(#{id_prefix}{m.group(1)})', text)
        text = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{id_prefix}{m.group(1)}"', text)
    return text.replace('<svg ', f'<svg class="btl-chart" role="img" aria-label="{html.escape(title)}" ', 1)


def png_of(fig, dpi: int = 100) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(buf, format='png', dpi=dpi, facecolor='white', metadata={'Software': None})
    return buf.getvalue()


def img_tag(png: bytes, alt: str = '') -> str:
    """An ``<img>`` element holding ``png`` inline (a data URL: no file, no network)."""
    return (f'<img class="btl-static" alt="{html.escape(alt)}" '
            f'src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">')
