"""How a learner runs from its rule value: engines, graph checks, signal and transition read off ``self.rule``.

:class:`RuleDriven` is mixed into :class:`~.base.ETraceAlgorithm`. A learner whose
``rule`` is a :class:`~.rule.Rule` binds it to the graph when it compiles
(:meth:`validate_graph`: the rule checks the graph, resolves its decays and draws its
signal's matrices), then builds each relation's engine from it (:meth:`make_engine`),
steps on the plan its signal wraps (:meth:`plan_for_step`, e-prop's random feedback) and
takes ``coupled_transition`` from its transition. The RTRL family's learners hold a
rule too (an influence trace, :mod:`.influence_traces`) but step their own influence
matrix: they override these hooks.
"""
from __future__ import annotations

__all__ = ['RuleDriven', 'from_rule']


class from_rule:
    """A class attribute read off ``self.rule`` (``default`` on the class and without a rule); an
    instance may still set its own (``learner.coupled_transition = True``)."""

    def __init__(self, read, default):
        self.read, self.default = read, default

    def __get__(self, obj, owner=None):
        rule = None if obj is None else getattr(obj, 'rule', None)
        return self.default if rule is None else self.read(rule)


class RuleDriven:
    """The rule-driven hooks of an online learner (see the module docstring)."""

    rule = None               # a Rule value (set by each learner's constructor)
    rule_binding = None       # the rule fixed to the compiled graph (set by validate_graph)
    # True: D includes the per-position self term through ops (OSTL)
    coupled_transition = from_rule(lambda rule: rule.coupled, False)

    @property
    def rule_name(self) -> str:
        """The name the rule's messages use: the learner's class, or the rule's own name for a generic shell."""
        return type(self).__name__

    def validate_graph(self, record, plan, **signal_options):
        """Bind the rule to the compiled graph: raises :class:`~braintrace_lab.errors.CompilationError` when the
        rule cannot express it (``signal_options`` go to the signal, e.g. OSTTP's ``target_shape``)."""
        if self.rule is not None:
            self.rule_binding = self.rule.bind(self.model, record, plan, dtype=self.trace_dtype, who=self.rule_name,
                                               **signal_options)

    def make_engine(self, relation):
        """The trace engine of one relation."""
        if self.rule_binding is None:
            raise NotImplementedError(f'{type(self).__name__} has no rule value: set self.rule to a Rule '
                                      f'(braintrace_lab.algorithms.rules) or override make_engine.')
        return self.rule_binding.engine(relation)

    def learning_signal(self, g, cot_out, plan):
        """Map the backpropagated ``dL/dh`` (per hidden leaf) to the signal the rule uses."""
        return g if self.rule_binding is None else self.rule_binding.learning_signal(g, cot_out, plan)

    def plan_for_step(self):
        """The plan the online step runs on: the rule's signal may wrap it (e-prop's random feedback)."""
        return self._plan if self.rule_binding is None else self.rule_binding.wrap_plan(self._plan)
