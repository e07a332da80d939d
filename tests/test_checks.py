"""rnn_course.checks: what is accepted, and messages that name the argument and what it should have been."""
import pytest

from rnn_course.checks import flag, int_at_least, one_of, positive


def test_accepted_values_come_back():
    assert int_at_least("n", 3) == 3 and int_at_least("n", 0, 0) == 0
    assert positive("lr", 1e-3) == 1e-3 and one_of("head", "last", ("last", "every")) == "last"
    assert flag("bias", False) is False


@pytest.mark.parametrize("call, message", [
    (lambda: int_at_least("steps", 0), "steps must be an int >= 1, got 0"),
    (lambda: int_at_least("steps", True), "steps must be an int >= 1, got True"),
    (lambda: int_at_least("steps", 2.0), "steps must be an int >= 1, got 2.0"),
    (lambda: int_at_least("T", 5, 20), "T must be an int >= 20, got 5"),
    (lambda: positive("lr", 0), "lr must be a number > 0, got 0"),
    (lambda: positive("lr", "1"), "lr must be a number > 0, got '1'"),
    (lambda: one_of("head", "first", ("last", "every")), "head must be one of 'last', 'every', got 'first'"),
    (lambda: flag("bias", 1), "bias must be True or False, got 1")])
def test_messages(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()
