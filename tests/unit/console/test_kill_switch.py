"""Kill switch confirmation codes and step order (pure)."""

from __future__ import annotations

import pytest

from titan_console.core.kill_switch import STEPS, ChallengeBook, format_code, outcome


def test_steps_are_in_the_architectures_order() -> None:
    assert STEPS == ("flatten", "cancel_all", "disarm", "pause_scavenger", "pause_system")


def test_code_format() -> None:
    code = format_code(bytes(range(8)))
    assert len(code) == 9
    assert code[4] == "-"
    assert not set(code.replace("-", "")) & set("01IO")
    with pytest.raises(ValueError, match="8 random bytes"):
        format_code(b"abc")


def test_a_code_works_once_for_its_user_before_it_expires() -> None:
    book = ChallengeBook(ttl_ms=1_000)
    book.issue("alice", "ABCD-EFGH", now_ms=0)
    assert not book.redeem("bob", "ABCD-EFGH", now_ms=10)  # someone else's code
    assert not book.redeem("alice", "WRONG-CODE", now_ms=10)
    assert book.redeem("alice", "abcd efgh", now_ms=10)  # case and separators are forgiven
    assert not book.redeem("alice", "ABCD-EFGH", now_ms=20)  # used up


def test_an_expired_code_is_refused_and_a_new_one_replaces_the_old() -> None:
    book = ChallengeBook(ttl_ms=1_000)
    book.issue("alice", "AAAA-AAAA", now_ms=0)
    assert not book.redeem("alice", "AAAA-AAAA", now_ms=1_001)
    book.issue("alice", "BBBB-BBBB", now_ms=2_000)
    book.issue("alice", "CCCC-CCCC", now_ms=2_001)
    assert not book.redeem("alice", "BBBB-BBBB", now_ms=2_002)
    assert book.redeem("alice", "CCCC-CCCC", now_ms=2_002)


def test_outcome_needs_every_step() -> None:
    assert outcome([{"success": True}, {"success": True}])
    assert not outcome([{"success": True}, {"success": False}])
    assert not outcome([])
