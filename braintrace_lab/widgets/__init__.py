"""Interactive views for Jupyter (ipywidgets 8 + anywidget; charts by uPlot, static images by matplotlib).

* :class:`GraphView` - the compiled eligibility-trace graph, clickable;
* :class:`TraceMonitor` - live trace heatmaps and norm curves during training;
* :class:`GradientAgreement` - online gradient vs the oracle, with controls;
* :class:`AlgorithmArena` - several algorithms trained side by side.

The browser side is written in the top-level ``widgets/`` folder and bundled with uPlot
into ``braintrace_lab/_widgets_static`` (no CDN). Every view catches its own errors and
shows them, and its output also carries a static image (PNG or SVG) of its current data,
which exported notebooks show where the widget was.

>>> from braintrace_lab.widgets import GraphView, TraceMonitor
>>> GraphView(learner)
"""
from .arena import AlgorithmArena
from .gradient_agreement import GradientAgreement
from .graph_view import GraphView
from .live_chart import LiveChart
from .trace_monitor import TraceMonitor

__all__ = ['GraphView', 'TraceMonitor', 'GradientAgreement', 'AlgorithmArena', 'LiveChart']
