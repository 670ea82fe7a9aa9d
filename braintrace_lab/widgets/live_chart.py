"""``LiveChart``: a light canvas chart whose points travel as one float32 buffer.

Used by :class:`GradientAgreement` and :class:`AlgorithmArena` for their live plots (a
plotly ``FigureWidget`` would carry a ~5 MB bundle per figure); their static renderings
use plain plotly figures instead.

>>> chart = LiveChart(panels=[{'title': 'loss', 'xlabel': 'step', 'logy': True}])
>>> chart.set_series([{'name': 'bptt', 'x': steps, 'y': losses}])
"""
from __future__ import annotations

from typing import Sequence

import anywidget
import numpy as np
import traitlets

from ._assets import css, esm
from ._base import SafeView, check_panels

__all__ = ['LiveChart']


class LiveChart(SafeView, anywidget.AnyWidget):
    """Panels of line/marker series; ``set_series`` replaces all points in one message."""
    _esm = esm('live_chart')
    _css = css()
    layout_spec = traitlets.Dict().tag(sync=True)
    series = traitlets.List().tag(sync=True)
    data = traitlets.Bytes(b'').tag(sync=True)

    def __init__(self, panels: Sequence[dict] = ({},), width: int = 340, height: int = 200, **kwargs):
        panels = check_panels('LiveChart', panels)
        super().__init__(**kwargs)
        self._init_safe()
        self.layout_spec = {'panels': panels, 'width': int(width), 'height': int(height)}

    def set_series(self, series: Sequence[dict]):
        """``series``: dicts with ``name``, ``x``, ``y`` and optional ``panel``, ``mode``, ``color``."""
        with self.guarded('packing the chart data'):
            meta, chunks, offset = [], [], 0
            for s in series:
                x = np.asarray(s['x'], np.float32).ravel()
                y = np.asarray(s['y'], np.float32).ravel()
                if x.shape != y.shape:
                    raise ValueError(f'series {s.get("name")!r}: x has {x.size} points, y has {y.size}.')
                meta.append({'name': str(s.get('name', '')), 'panel': int(s.get('panel', 0)), 'offset': offset,
                             'length': int(x.size), 'mode': s.get('mode', 'lines'), 'color': s.get('color')})
                chunks += [x.tobytes(), y.tobytes()]
                offset += 2 * x.size
            with self.hold_sync():
                self.series = meta
                self.data = b''.join(chunks)

    def arrays(self, panel: int = None) -> dict:
        """``{name: (x, y)}`` decoded from the buffer last sent (of one ``panel``, or all)."""
        data = np.frombuffer(self.data, np.float32)
        return {s['name']: (data[s['offset']:s['offset'] + s['length']],
                            data[s['offset'] + s['length']:s['offset'] + 2 * s['length']])
                for s in self.series if panel is None or s['panel'] == panel}

    def __repr__(self) -> str:
        titles = [p.get('title', '') for p in self.layout_spec.get('panels', [])]
        return f'LiveChart(panels={titles}, series={[s["name"] for s in self.series]})'
