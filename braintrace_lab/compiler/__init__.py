"""The compiler: from a model step's jaxpr to hidden groups, relations and weight status."""
from .graph import CompiledGraph, compile_etrace_graph
from .records import Diagnostic, ETraceGraph, HiddenGroup, OpRecord, ParamRecord, Relation

__all__ = ['compile_etrace_graph', 'ETraceGraph', 'HiddenGroup', 'OpRecord', 'Relation',
           'ParamRecord', 'Diagnostic', 'CompiledGraph']
