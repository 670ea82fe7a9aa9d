"""The one assertion of every hint test: a wrong answer fails, names what is off, and hides the answer."""
from braintrace_lab import course


def assert_wrong_with_hint(name, answer, words, never):
    """``course.check(name, answer)`` fails with a message holding ``words`` and none of ``never``."""
    result = course.check(name, answer)
    assert result.attempted and not result.passed, result.message
    assert result.message.startswith(f'{name}: not yet.')
    for w in words:
        assert w in result.message, (w, result.message)
    for w in never:
        assert w not in result.message, (w, result.message)
