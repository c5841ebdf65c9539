"""Every venue at once: one operator action answered by each venue's execution, made into one
answer with the runbook's fields and a per-venue account of what happened. Pure.

One execution process trades each venue account, so flatten, cancel-all, the kill switch's
steps and the positions view ask them all. A venue that did not answer never hides what the
others did: the answer says `success: false` and names the venue and its error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# counts that add up across venues
SUMMED = ("positions_closed", "orders_cancelled")


@dataclass(frozen=True)
class VenueFailure:
    """A venue's execution that refused or did not answer: its error code and message."""

    code: str
    message: str
    status: int = 503


def merge_actions(answers: Mapping[str, Mapping[str, Any] | VenueFailure]) -> dict[str, Any]:
    """Flatten or cancel-all across venues: every count summed, every per-symbol result kept
    (the manual's `{"symbol", "success"}`), and `venues` saying how each went, with its own
    results. Success only when every venue's did."""
    merged: dict[str, Any] = {key: 0 for key in SUMMED}
    merged["results"] = []
    venues: dict[str, dict[str, Any]] = {}
    for venue, answer in answers.items():
        if isinstance(answer, VenueFailure):
            venues[venue] = {"success": False, "error": answer.code, "message": answer.message}
            continue
        for key, value in answer.items():
            if key in SUMMED:
                merged[key] += int(value or 0)
            elif key == "results":
                merged["results"] += list(value or [])
            else:
                merged.setdefault(key, value)  # the first venue's words for the rest
        venues[venue] = {
            "success": answer.get("success") is True,
            **{k: answer[k] for k in (*SUMMED, "results") if k in answer},
        }
    merged["success"] = bool(venues) and all(v["success"] for v in venues.values())
    merged["venues"] = venues
    return merged


def _gather(answers: Mapping[str, Mapping[str, Any] | VenueFailure], key: str) -> tuple[list[Any], dict[str, str]]:
    """Every answering venue's `key` items, each naming its `venue`; and the venues that did not
    answer, with why."""
    items: list[Any] = []
    unavailable = {}
    for venue, answer in answers.items():
        if isinstance(answer, VenueFailure):
            unavailable[venue] = answer.message
            continue
        items += [{**item, "venue": venue} for item in answer.get(key) or []]
    return items, unavailable


def _listing(key: str, items: list[Any], unavailable: dict[str, str]) -> dict[str, Any]:
    merged: dict[str, Any] = {"count": len(items), key: items}
    if unavailable:
        merged["unavailable"] = unavailable  # never shown as empty: that venue is unknown
    return merged


def merge_positions(answers: Mapping[str, Mapping[str, Any] | VenueFailure]) -> dict[str, Any]:
    """Every venue's open positions in one list, each naming its `venue` (and its account,
    `exchange`); a venue that did not answer is listed under `unavailable`, never as flat."""
    return _listing("positions", *_gather(answers, "positions"))


def merge_orders(answers: Mapping[str, Mapping[str, Any] | VenueFailure], limit: int) -> dict[str, Any]:
    """Every venue's orders, newest first, each naming its `venue` (and account, `exchange`),
    at most `limit`; a venue that did not answer is listed under `unavailable`."""
    orders, unavailable = _gather(answers, "orders")
    orders.sort(key=lambda order: -int(order.get("updatedAt") or 0))
    return _listing("orders", orders[:limit], unavailable)


def merge_traps(answers: Mapping[str, Mapping[str, Any] | VenueFailure]) -> dict[str, Any]:
    """Every venue's trap map in one list, each trap naming its `venue`, best first; the first
    venue's map gives the top-level fields (as one scavenger's answer had them) and `venues`
    says each map's cycle, age and whether it emits (or why it could not be read)."""
    traps: list[Any] = []
    venues: dict[str, dict[str, Any]] = {}
    merged: dict[str, Any] = {}
    for venue, answer in answers.items():
        if isinstance(answer, VenueFailure):
            venues[venue] = {"available": False, "error": answer.code, "message": answer.message}
            continue
        traps += [{**trap, "venue": venue} for trap in answer.get("traps") or []]
        venues[venue] = {"available": True, **{k: answer.get(k) for k in ("cycle_id", "age_ms", "count", "emitting")}}
        for key, value in answer.items():
            merged.setdefault(key, value)  # the first venue's words for the rest
    traps.sort(key=lambda trap: -float(trap.get("quality") or 0))
    merged.update({"count": len(traps), "traps": traps, "venues": venues})
    merged["emitting"] = any(v.get("emitting") for v in venues.values())
    return merged


def venue_links(executions: Mapping[str, str], beats: Mapping[str, Mapping[str, Any] | None]) -> dict[str, Any]:
    """Each venue's link as its execution's heartbeat says it: `connected` (None when its
    execution is silent: unknown, not down) and the execution's mode."""
    links = {}
    for venue, service in executions.items():
        beat = beats.get(service)
        links[venue] = {
            "connected": None if beat is None else beat.get("connected"),
            "mode": None if beat is None else beat.get("mode"),
        }
    return links


def every_venue_failed(answers: Mapping[str, Mapping[str, Any] | VenueFailure]) -> VenueFailure | None:
    """The first venue's failure when no venue answered (the action did nothing anywhere)."""
    failures = [a for a in answers.values() if isinstance(a, VenueFailure)]
    return failures[0] if failures and len(failures) == len(answers) else None
