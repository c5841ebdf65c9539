"""A brain process end to end on real Redis and Postgres: decisions from signals, the
dashboard's exact fields, the runbook's curl reads as written, auth on mutations, config
reloaded live, system mode from heartbeats, equity snapshots and a restart's restore."""

from __future__ import annotations

import re
import shlex
import subprocess
import time
from collections.abc import AsyncIterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.brain.conftest import BrainProcess, add_user, arm, make_signal, running_brain, wait_for_decisions
from tests.processes import metric_value, until
from titan_common.auth.tokens import OPERATOR_HEADER, TOKEN_HEADER
from titan_common.config import TradingConfig
from titan_common.db.models import AuditEvent, EquitySnapshot, OrderIntentRow, SignalRow
from titan_common.messages import Event
from titan_common.settings import DEFAULT_INTERNAL_TOKEN

pytestmark = pytest.mark.integration

RUNBOOKS = Path(__file__).resolve().parents[4] / "shared" / "runbooks"
DASHBOARD_FIELDS = {
    "nav",
    "navDetail",
    "allocation",
    "phaseEquity",
    "riskMetrics",
    "treasury",
    "circuitBreaker",
    "recentDecisions",
    "phase",
}


@pytest.fixture(scope="module")
async def brain(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BrainProcess]:
    var_dir = tmp_path_factory.mktemp("brain-endpoints")
    async with running_brain(
        database_url, redis_url, var_dir, redis_db_index=8, TITAN_SNAPSHOT_INTERVAL_S="0.5"
    ) as process:
        yield process


async def test_signals_become_decisions_and_intents(
    brain: BrainProcess, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await arm(sessions, True)
    await brain.wallet("10000")
    approved, stale = make_signal("BTCUSDT"), make_signal("ETHUSDT", ts_ms=1_000, ttl_ms=1_000)
    for signal in (approved, stale):
        await brain.signal(signal)
    found = await wait_for_decisions(sessions, [approved.signal_id, stale.signal_id])
    assert found[approved.signal_id].verdict == "APPROVE"
    # phase 2 (10,000 is past its 5,000 entry): 1.5% of 10,000 over the loss at the stop,
    # 2 + (0.055% fees + 0.05% slippage) x (100 + 98) = 2.2079 a unit, on the 1e-8 grid
    assert found[approved.signal_id].qty == D("67.93785950")
    assert found[stale.signal_id].reasons == ["SIGNAL_STALE"]
    async with sessions() as session:
        statuses = dict(
            (await session.execute(select(SignalRow.signal_id, SignalRow.status).where(
                SignalRow.signal_id.in_([approved.signal_id, stale.signal_id])))).all()
        )  # fmt: skip
        intent = await session.scalar(
            select(OrderIntentRow).where(OrderIntentRow.decision_id == found[approved.signal_id].decision_id)
        )
    assert statuses == {approved.signal_id: "APPROVED", stale.signal_id: "EXPIRED"}
    assert intent is not None
    assert intent.state == "CREATED"
    assert intent.qty == D("67.93785950")
    assert intent.stop_loss == D(98)
    # the intent went to titan:intents with the signal's entry as reference price
    entries = await brain.redis.xrange("titan:intents")
    published = [e for _id, e in entries if intent.intent_id.encode() in e[b"data"]]
    assert len(published) == 1
    assert b'"reference_price":"100"' in published[0][b"data"]
    # a second signal on the same symbol meets the approved entry: DUPLICATE_POSITION
    again = make_signal("BTCUSDT")
    await brain.signal(again)
    assert (await wait_for_decisions(sessions, [again.signal_id]))[again.signal_id].reasons == ["DUPLICATE_POSITION"]
    metrics = brain.get("/metrics").text
    assert metric_value(metrics, "titan_brain_signal_processing_latency_ms_count") >= 3
    assert 'titan_brain_decisions_total{reason="",verdict="APPROVE"}' in metrics
    assert metric_value(metrics, "titan_brain_equity_usd") == 10000
    await arm(sessions, False)


async def test_dashboard_has_exactly_the_issues_fields(brain: BrainProcess) -> None:
    body = brain.dashboard()
    assert set(body) == DASHBOARD_FIELDS
    assert set(body["riskMetrics"]) == {"globalLeverage", "netDelta", "correlationScore", "portfolioBeta"}
    assert set(body["treasury"]) == {
        "futuresWallet", "spotWallet", "totalSwept", "highWatermark", "lockedProfit", "riskCapital",
    }  # fmt: skip
    # `.nav` is the equity as a JSON number (the runbook's "current equity"); the detail moved
    assert body["nav"] == 10000
    assert isinstance(body["nav"], float)
    assert body["navDetail"]["equity"] == "10000.00"
    assert body["navDetail"]["fresh"] is True
    assert body["phaseEquity"] == {"phase1": "0.00", "phase2": "10000.00", "phase3": "0.00"}
    assert body["phase"]["current"] == 2  # 10,000 is past phase 2's 5,000 entry
    assert body["circuitBreaker"]["active"] is False
    assert len(body["recentDecisions"]) <= 20
    ts = [d["ts"] for d in body["recentDecisions"]]
    assert ts == sorted(ts)  # oldest first: [-10:] is the latest ten


def _jq_paths(expression: str) -> list[str]:
    return [part.strip() for part in expression.split(",")]


def _resolve(body: Any, path: str) -> Any:
    """A jq path of the runbooks' kind (., .a.b, .a[-10:]) evaluated in Python."""
    if path == ".":
        return body
    value = body
    for key, slice_ in re.findall(r"\.(\w+)(\[[^\]]*\])?", path):
        assert isinstance(value, dict), f"{path}: {key} read on {type(value).__name__}"
        assert key in value, f"{path}: no field {key!r}"
        value = value[key]
        if slice_:
            start = slice_.strip("[]").split(":")[0]
            assert isinstance(value, list), f"{path}: slicing {type(value).__name__}"
            value = value[int(start) :] if start else value
    return value


def _runbook_commands() -> list[str]:
    lines = []
    for runbook in sorted(RUNBOOKS.glob("*.md")):
        for line in runbook.read_text().splitlines():
            if "localhost:3100" in line and line.strip().startswith("curl"):
                lines.append(line.strip())
    return lines


EXPECTED_TYPES = {
    ".nav": float,
    ".phaseEquity": dict,
    ".treasury": dict,
    ".riskMetrics.globalLeverage": str,
    ".recentDecisions[-10:]": list,
    ".active": bool,
    ".status": str,
    ".": dict,
}


@pytest.mark.skipif(not RUNBOOKS.exists(), reason="shared/runbooks not beside the repo")
def test_runbook_reads_work_as_written(brain: BrainProcess) -> None:
    commands = _runbook_commands()
    issue_list = [
        "curl -s http://localhost:3100/dashboard | jq '.nav, .phaseEquity'",
        "curl -s http://localhost:3100/dashboard | jq '.nav, .riskMetrics.globalLeverage'",
        "curl -s http://localhost:3100/dashboard | jq '.recentDecisions[-10:]'",
        "curl -s http://localhost:3100/breaker | jq '.active'",
        "curl -s http://localhost:3100/phases/approval-rates",
        "curl -s http://localhost:3100/health | jq '.status'",
    ]
    for expected in issue_list:
        assert expected in commands, f"the runbook no longer says {expected!r}"
    port = brain.url.rsplit(":", 1)[1]
    for command in commands:
        local = command.replace("localhost:3100", f"127.0.0.1:{port}")
        curl_part, _, jq_part = local.partition("|")
        # the command as written, through the shell, curl and jq
        shell = subprocess.run(local, shell=True, capture_output=True, text=True, timeout=20, check=False)  # noqa: S602
        assert shell.returncode == 0, f"{command}: {shell.stderr}"
        assert shell.stdout.strip(), command
        assert shell.stdout.strip().splitlines()[0] != "null", command
        # and the same read checked in Python: every path exists with its type
        url = shlex.split(curl_part)[-1]
        response = httpx.get(url, timeout=10)
        assert response.status_code == 200, command
        body = response.json()
        if not jq_part.strip():
            assert isinstance(body, dict)
            continue
        expression = shlex.split(jq_part.strip())[1]
        for path in _jq_paths(expression):
            value = _resolve(body, path)
            assert isinstance(value, EXPECTED_TYPES[path]), f"{command}: {path} is {type(value).__name__}"
    assert brain.get("/health").json()["status"] == "ok"
    rates = brain.get("/phases/approval-rates").json()
    assert {"overall", "phases", "window_hours"} <= set(rates)
    assert rates["overall"]["total"] >= 3


async def test_resetting_the_breaker_needs_an_operator(
    brain: BrainProcess, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await add_user(sessions, "brain-viewer", "viewer-pass", "viewer")
    await add_user(sessions, "brain-ops", "ops-pass", "operator")
    body = {"reason": "reviewed", "operator_id": "someone-else"}
    assert brain.post("/breaker/reset", json=body).status_code == 401
    assert brain.post("/breaker/reset", json=body, headers={TOKEN_HEADER: "wrong"}).status_code == 401
    assert brain.post("/breaker/reset", json=body, auth=("brain-ops", "bad")).status_code == 401
    assert brain.post("/breaker/reset", json=body, auth=("brain-viewer", "viewer-pass")).status_code == 403
    bad = brain.post("/breaker/reset", json={"operator_id": "x"}, auth=("brain-ops", "ops-pass"))
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "INVALID_REQUEST"
    ok = brain.post("/breaker/reset", json=body, auth=("brain-ops", "ops-pass"))
    assert ok.status_code == 200
    assert ok.json()["operator_id"] == "brain-ops"  # authenticated identity, not the body's label
    assert ok.json()["was_active"] is False
    token = {TOKEN_HEADER: DEFAULT_INTERNAL_TOKEN, OPERATOR_HEADER: "console-ops"}
    assert brain.post("/breaker/reset", json=body, headers=token).json()["operator_id"] == "console-ops"
    assert brain.post("/aigate/reset", json={"reason": "x"}).status_code == 401
    assert brain.get("/decisions?limit=0").status_code == 422
    listed = brain.get("/decisions?limit=2").json()
    assert listed["count"] == 2
    assert listed["decisions"][0]["ts"] >= listed["decisions"][1]["ts"]  # newest first


async def test_config_applies_live_and_mode_comes_from_heartbeats(
    brain: BrainProcess, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await arm(sessions, True)
    await brain.wallet("10000")
    narrow = TradingConfig(asset_whitelist=("ETHUSDT",))
    await brain.config(sessions, narrow)
    refused = make_signal("SOLUSDT")
    await brain.signal(refused)
    assert (await wait_for_decisions(sessions, [refused.signal_id]))[refused.signal_id].reasons == [
        "SYMBOL_NOT_WHITELISTED"
    ]
    await brain.config(sessions, TradingConfig())
    # a brain that counts execution's heartbeat: missing is PAUSE (SERVICE_DOWN), DEGRADE blocks too
    brain.stop()
    brain.env["TITAN_MODE_SERVICES"] = "brain,execution"
    brain.start()
    await brain.wallet("10000")
    paused = make_signal("XRPUSDT")
    await brain.signal(paused)
    assert (await wait_for_decisions(sessions, [paused.signal_id]))[paused.signal_id].reasons == ["MODE_NOT_NORMAL"]
    await brain.beats(execution="DEGRADE")
    degraded = make_signal("XRPUSDT")
    await brain.signal(degraded)
    assert (await wait_for_decisions(sessions, [degraded.signal_id]))[degraded.signal_id].reasons == ["MODE_NOT_NORMAL"]
    await brain.beats(execution="NORMAL")
    normal = make_signal("XRPUSDT")
    await brain.signal(normal)
    assert (await wait_for_decisions(sessions, [normal.signal_id]))[normal.signal_id].verdict == "APPROVE"
    await arm(sessions, False)


async def test_equity_snapshots_and_restore_after_restart(
    brain: BrainProcess, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await brain.wallet("10400")

    async def latest() -> EquitySnapshot | None:
        async with sessions() as session:
            row = await session.scalar(
                select(EquitySnapshot)
                .where(EquitySnapshot.exchange == brain.exchange)
                .order_by(EquitySnapshot.id.desc())
                .limit(1)
            )
        return row if row is not None and row.equity == D(10400) else None

    last = await until(latest, what="a snapshot of the new equity")
    assert last is not None
    assert last.equity == D(10400)
    assert last.day_start_equity == D(10000)
    assert last.high_watermark == D(10400)
    assert last.phase == 2
    brain.stop()
    brain.start()
    # history restored: the day's start and the watermark survive; the old equity is not fresh
    nav = brain.dashboard()["navDetail"]
    assert nav["dayStartEquity"] == "10000.00"
    assert nav["highWatermark"] == "10400.00"
    assert brain.dashboard()["phase"]["current"] == 2


async def test_a_phase_change_is_audited_and_broadcast(
    brain: BrainProcess, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await brain.wallet("10400")
    listener = brain.redis.pubsub()
    await listener.subscribe("titan:events")
    try:
        await brain.wallet("60000")  # past phase 3's 50,000 entry
        assert brain.dashboard()["phase"]["current"] == 3
        await brain.wallet("30000")  # above phase 3's 25,000 floor: stays
        assert brain.dashboard()["phase"]["current"] == 3
        await brain.wallet("10400")
        assert brain.dashboard()["phase"]["current"] == 2
        seen: list[tuple[int, int, str]] = []
        deadline = time.monotonic() + 10
        while len(seen) < 2 and time.monotonic() < deadline:
            message = await listener.get_message(ignore_subscribe_messages=True, timeout=0.5)
            if message is None:
                continue
            event = Event.model_validate_json(message["data"])
            if event.event_type == "PHASE_CHANGE":
                seen.append((event.payload["previous"], event.payload["phase"], event.payload["equity"]))
    finally:
        await listener.aclose()
    assert seen == [(2, 3, "60000"), (3, 2, "10400")]

    async def audited() -> list[tuple[int, int]]:
        async with sessions() as session:
            rows = await session.scalars(
                select(AuditEvent).where(AuditEvent.event_type == "PHASE_CHANGE", AuditEvent.service == "brain")
            )
            found = [(r.payload["previous"], r.payload["phase"]) for r in rows]
        return found if (3, 2) in found else []

    assert (2, 3) in await until(audited, what="PHASE_CHANGE in the audit trail")
