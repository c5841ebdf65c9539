"""Backup retention (7 daily + 4 weekly) and JSONL audit retention, on names and timestamps only."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from titan_worker.core.retention import DAILY, WEEKLY, expired_audit_files, plan_retention

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)  # type: ignore[misc]


def test_one_backup_a_day_for_sixty_days_keeps_seven_days_and_four_weeks() -> None:
    # 2026-03-01 is a Sunday; one backup at 01:00 UTC each day, the newest on 2026-04-29 (Wednesday)
    stamps = [ms(2026, 3, 1, 1) + d * DAY_MS for d in range(60)]
    plan = plan_retention(stamps, keep_daily=7, keep_weekly=4)
    newest = stamps[-1]
    daily = sorted(s for s, why in plan.keep.items() if DAILY in why)
    weekly = sorted(s for s, why in plan.keep.items() if WEEKLY in why)
    assert daily == stamps[-7:]
    # the newest backup of each of the last four ISO weeks: this week's is today's, then three Sundays
    sundays = [ms(2026, 4, 26, 1), ms(2026, 4, 19, 1), ms(2026, 4, 12, 1)]
    assert weekly == sorted([newest, *sundays])
    # today's and Sunday the 26th are dailies too: 7 dailies + 2 older Sundays
    assert len(plan.keep) == 9
    assert set(plan.keep) | set(plan.prune) == set(stamps)
    assert not set(plan.keep) & set(plan.prune)
    assert plan.prune == tuple(sorted(plan.prune))


def test_several_backups_a_day_keep_only_the_newest_of_each_day() -> None:
    stamps = [ms(2026, 5, 4, h) for h in (1, 7, 13, 19)] + [ms(2026, 5, 5, h) for h in (1, 7)]
    plan = plan_retention(stamps, keep_daily=7, keep_weekly=4)
    assert set(plan.keep) == {ms(2026, 5, 4, 19), ms(2026, 5, 5, 7)}
    assert set(plan.prune) == {ms(2026, 5, 4, 1), ms(2026, 5, 4, 7), ms(2026, 5, 4, 13), ms(2026, 5, 5, 1)}


def test_days_without_backups_do_not_eat_into_the_seven() -> None:
    # backups every third day: the seven kept dailies reach three weeks back
    stamps = [ms(2026, 1, 1, 2) + 3 * d * DAY_MS for d in range(12)]
    plan = plan_retention(stamps, keep_daily=7, keep_weekly=0)
    assert sorted(plan.keep) == stamps[-7:]


def test_nothing_to_do_with_no_backups_and_everything_kept_when_few() -> None:
    assert plan_retention([], keep_daily=7, keep_weekly=4).keep == {}
    few = [ms(2026, 2, 1, 1), ms(2026, 2, 2, 1)]
    plan = plan_retention(few, keep_daily=7, keep_weekly=4)
    assert set(plan.keep) == set(few)
    assert plan.prune == ()


@given(
    st.lists(st.integers(min_value=ms(2020, 1, 1), max_value=ms(2030, 1, 1)), max_size=80),
    st.integers(min_value=1, max_value=10),
    st.integers(min_value=0, max_value=6),
)
def test_the_newest_is_always_kept_and_the_policy_bounds_what_is_kept(
    stamps: list[int], keep_daily: int, keep_weekly: int
) -> None:
    plan = plan_retention(stamps, keep_daily=keep_daily, keep_weekly=keep_weekly)
    if stamps:
        assert max(stamps) in plan.keep
    assert len(plan.keep) <= keep_daily + keep_weekly
    assert set(plan.keep) | set(plan.prune) == set(stamps)
    days_kept = [datetime.fromtimestamp(s / 1000, tz=UTC).date() for s, why in plan.keep.items() if DAILY in why]
    assert len(days_kept) == len(set(days_kept))  # at most one daily per day


def test_audit_files_past_the_retention_are_chosen_and_nothing_else() -> None:
    today = date(2026, 6, 30)
    names = [
        "brain-2026-05-30.jsonl",  # 31 days old: expired
        "execution-2026-05-31.jsonl",  # exactly 30 days: kept
        "console-2026-06-30.jsonl",  # today
        "brain-2025-12-01.jsonl",
        "notes.txt",
        "brain-2026-13-01.jsonl",  # not a date
        "scavenger-2026-05-01.jsonl.gz",  # not ours to judge
    ]
    assert expired_audit_files(names, today=today, keep_days=30) == ["brain-2025-12-01.jsonl", "brain-2026-05-30.jsonl"]
    assert (
        expired_audit_files(names, today=today + timedelta(days=400), keep_days=30)[-1] == "execution-2026-05-31.jsonl"
    )
