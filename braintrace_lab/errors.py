"""Exceptions with messages that name the state, shape or option and the fix."""

__all__ = ['CompilationError', 'NotSupportedError', 'NotCompiledError']


class CompilationError(ValueError):
    """The model cannot be compiled into an eligibility-trace graph as written."""


class NotSupportedError(NotImplementedError):
    """A valid request that this rule or op cannot serve (the message says what can)."""


class NotCompiledError(RuntimeError):
    """The learner was called before ``compile_graph``."""
