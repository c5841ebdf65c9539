"""`best_effort`: a step whose failure must not stop the caller catches only the failures
it names, logs each, and lets anything else (a bug) through."""

from __future__ import annotations

import logging

import pytest

from titan_common.logging import best_effort

log = logging.getLogger("test.best_effort")


def test_an_expected_failure_is_logged_and_the_caller_carries_on(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="test.best_effort"), best_effort(log, "closing Redis", OSError):
        raise ConnectionResetError("peer gone")
    assert "closing Redis failed (ConnectionResetError: peer gone); carrying on" in caplog.text


def test_anything_else_propagates() -> None:
    with pytest.raises(KeyError), best_effort(log, "closing Redis", OSError):
        raise KeyError("a bug")


def test_nothing_happens_when_the_step_succeeds(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG), best_effort(log, "a step", OSError):
        pass
    assert caplog.text == ""
