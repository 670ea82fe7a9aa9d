"""Interactive views for Jupyter (ipywidgets 8 + anywidget; static renderings via plotly).

* :class:`GraphView` - the compiled eligibility-trace graph, clickable;
* :class:`TraceMonitor` - live trace heatmaps and norm curves during training;
* :class:`GradientAgreement` - online gradient vs the oracle, with controls;
* :class:`AlgorithmArena` - several algorithms trained side by side.

The browser side is plain ES modules in the top-level ``widgets/`` folder (shipped as
``braintrace_lab/_widgets_static``). Every view catches its own errors and shows them.

>>> from braintrace_lab.widgets import GraphView, TraceMonitor
>>> GraphView(learner)
"""
from .arena import AlgorithmArena
from .gradient_agreement import GradientAgreement
from .graph_view import GraphView
from .live_chart import LiveChart
from .trace_monitor import TraceMonitor

__all__ = ['GraphView', 'TraceMonitor', 'GradientAgreement', 'AlgorithmArena', 'LiveChart']
