"""``LiveChart``: uPlot panels (lines or scatter) whose points travel as one float32 buffer.

Used by :class:`GradientAgreement` and :class:`AlgorithmArena` for their live plots. Each
panel has a title, axis titles (``xlabel``, ``ylabel``, ``y2label`` for a second y axis),
log axes (``logy``, ``logy2``), a fixed range (``ymin`` and ``ymax``), integer x ticks
(``xinteger``, for steps) or, with
``diagonal``, a scatter plot on equal axes with the line ``y = x``. The legend under each
panel shows the values under the cursor. ``set_notes({panel: text})`` shows a sentence
instead of a panel (why there is nothing to draw). Its output also carries a PNG of the
current data for exported notebooks (:mod:`._static`).

>>> chart = LiveChart(panels=[{'title': 'loss', 'xlabel': 'training step', 'ylabel': 'loss', 'logy': True}])
>>> steps, losses = [0, 1, 2], [0.9, 0.7, 0.6]
>>> chart.set_series([{'name': 'bptt', 'label': 'BPTT', 'x': steps, 'y': losses}])
"""
from __future__ import annotations

from typing import Mapping, Sequence

import anywidget
import numpy as np
import traitlets

from ..lab import figures
from ._assets import css, esm
from ._base import SafeView, check_panels
from ._static import StaticImage

__all__ = ['LiveChart']


class LiveChart(StaticImage, SafeView, anywidget.AnyWidget):
    """Panels of line/marker series; ``set_series`` replaces all points in one message."""
    _esm = esm('live_chart')
    _css = css()
    layout_spec = traitlets.Dict().tag(sync=True)
    series = traitlets.List().tag(sync=True)
    data = traitlets.Bytes(b'').tag(sync=True)
    notes = traitlets.Dict().tag(sync=True)

    def __init__(self, panels: Sequence[dict] = ({},), width: int = 380, height: int = 230, **kwargs):
        panels = check_panels('LiveChart', panels)
        super().__init__(**kwargs)
        self._init_safe()
        self.layout_spec = {'panels': panels, 'width': int(width), 'height': int(height)}

    def set_series(self, series: Sequence[dict], notes: Mapping[int, str] = None):
        """``series``: dicts with ``name``, ``x``, ``y`` and optional ``label`` (shown in the legend;
        default the name), ``panel``, ``axis`` (1: the second y axis), ``mode`` (``'lines'`` or
        ``'markers'``), ``color``, ``band`` (``'lo'`` or ``'hi'``: not a line but one bound of the
        shaded band around the series named ``of``, drawn in its colour, not in the legend).
        ``notes``: ``{panel: sentence}`` shown instead of those panels.
        """
        with self.guarded('packing the chart data'):
            meta, chunks, offset = [], [], 0
            for s in series:
                x = np.asarray(s['x'], np.float32).ravel()
                y = np.asarray(s['y'], np.float32).ravel()
                if x.shape != y.shape:
                    raise ValueError(f'series {s.get("name")!r}: x has {x.size} points, y has {y.size}.')
                name = str(s.get('name', ''))
                band = s.get('band')
                if band not in (None, 'lo', 'hi') or (band and not s.get('of')):
                    raise ValueError(f"series {name!r}: band must be 'lo' or 'hi' with 'of' naming the series it "
                                     f"shades, got band={band!r}, of={s.get('of')!r}.")
                meta.append({'name': name, 'label': str(s.get('label') or name), 'panel': int(s.get('panel', 0)),
                             'axis': int(s.get('axis', 0)), 'offset': offset, 'length': int(x.size),
                             'mode': s.get('mode', 'lines'), 'color': s.get('color')})
                dash = s.get('dash')
                if dash is not None:
                    if not (isinstance(dash, (list, tuple)) and dash and
                            all(isinstance(d, (int, float)) and d > 0 for d in dash)):
                        raise ValueError(f'series {name!r}: dash must be a list of positive lengths in pixels '
                                         f'(on, off, ...), e.g. [6, 4]; got {dash!r}.')
                    meta[-1]['dash'] = [float(d) for d in dash]
                if band:
                    meta[-1].update(band=band, of=str(s['of']))
                chunks += [x.tobytes(), y.tobytes()]
                offset += 2 * x.size
            with self.hold_sync():
                self.series = meta
                self.data = b''.join(chunks)
                self.notes = {str(k): str(v) for k, v in (notes or {}).items() if v}

    def arrays(self, panel: int = None) -> dict:
        """``{name: (x, y)}`` decoded from the buffer last sent (of one ``panel``, or all)."""
        data = np.frombuffer(self.data, np.float32)
        return {s['name']: (data[s['offset']:s['offset'] + s['length']],
                            data[s['offset'] + s['length']:s['offset'] + 2 * s['length']])
                for s in self.series if panel is None or s['panel'] == panel}

    # ------------------------------------------------------------------ static rendering
    def draw_panel(self, ax, index: int):
        """Draw panel ``index`` (as last sent) on matplotlib axes ``ax``."""
        spec = self.layout_spec['panels'][index]
        note = self.notes.get(str(index))
        if note:
            figures.show_message(ax, note, title=spec.get('title', ''))
            return
        data = np.frombuffer(self.data, np.float32)
        own = [s for s in self.series if s['panel'] == index and not s.get('band')]
        colors = {s['label']: s.get('color') or figures.PALETTE[j % len(figures.PALETTE)] for j, s in enumerate(own)}

        def xy(s):
            start, n = s['offset'], s['length']
            return data[start:start + n], data[start + n:start + 2 * n]

        lines = {0: [], 1: []}
        for s in own:
            lines[1 if s['axis'] else 0].append((s['label'], *xy(s)))
        bounds = {(s['of'], s['band']): xy(s) for s in self.series if s['panel'] == index and s.get('band')}
        bands = {s['label']: (bounds[s['name'], 'lo'][0], bounds[s['name'], 'lo'][1], bounds[s['name'], 'hi'][1])
                 for s in own if (s['name'], 'lo') in bounds and (s['name'], 'hi') in bounds}
        dashes = {s['label']: s['dash'] for s in own if s.get('dash')}
        kw = dict(title=spec.get('title', ''), xlabel=spec.get('xlabel', ''), colors=colors, bands=bands,
                  dashes=dashes)
        if spec.get('diagonal'):
            figures.plot_scatter(ax, lines[0], title=kw['title'], xlabel=kw['xlabel'], ylabel=spec.get('ylabel', ''))
            return
        ylim = (spec['ymin'], spec['ymax']) if 'ymin' in spec and 'ymax' in spec else None
        figures.plot_lines(ax, lines[0], ylabel=spec.get('ylabel', ''), logy=bool(spec.get('logy')), ylim=ylim,
                           legend='' if lines[1] else 'right', **kw)
        if lines[1]:
            twin = ax.twinx()
            twin.grid(False)
            figures.plot_lines(twin, lines[1], ylabel=spec.get('y2label', ''), logy=bool(spec.get('logy2')),
                               legend='', **kw)
            handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
            ax.legend(handles=handles, loc='upper center', bbox_to_anchor=(0.5, -0.22), frameon=False, ncol=2)

    def to_figure(self):
        """The panels as one matplotlib figure (what the static image shows)."""
        n = len(self.layout_spec.get('panels', [])) or 1
        fig = figures.new_figure(4.4 * n, 3.4)
        axes = fig.subplots(1, n, squeeze=False)[0]
        for i, ax in enumerate(axes):
            self.draw_panel(ax, i)
        figures.share_legend(fig, axes)
        return fig

    def static_image(self) -> bytes:
        return figures.png_of(self.to_figure())

    def __repr__(self) -> str:
        titles = [p.get('title', '') for p in self.layout_spec.get('panels', [])]
        return f'LiveChart(panels={titles}, series={[s["name"] for s in self.series]})'
