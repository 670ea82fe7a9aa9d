"""The compiler: from a model step's jaxpr to hidden groups, relations and weight status.

:func:`compile_program` returns the one compiled form, a frozen :class:`Program`; its
``graph`` is the user-facing :class:`ETraceGraph` that :func:`compile_etrace_graph` returns.
"""
from .graph import compile_etrace_graph, compile_program
from .program import Program, ProgramRelation
from .records import Diagnostic, ETraceGraph, HiddenGroup, OpRecord, ParamRecord, Relation, RelationKey

__all__ = ['compile_etrace_graph', 'compile_program', 'Program', 'ProgramRelation', 'ETraceGraph',
           'HiddenGroup', 'OpRecord', 'Relation', 'RelationKey', 'ParamRecord', 'Diagnostic']
