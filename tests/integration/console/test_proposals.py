"""AI Quant end to end on the console's stack: `titan quant propose --sample` files a
proposal with its evidence; approving it makes a config version that names it and that the
brain reloads; rejecting records the reason; both are audited. A proposal whose base config
is no longer active is refused as stale and marked so."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from typer.testing import CliRunner

from tests.integration.console.conftest import auth_of
from tests.integration.console.stack import Stack
from titan_common.db.engine import make_engine, make_sessionmaker, transaction
from titan_common.db.proposals import file_proposal
from titan_common.settings import normalise_database_url, plain_database_url
from titan_ops.cli.main import app

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def post(stack: Stack, path: str, body: dict[str, Any], who: str = "operator-1") -> httpx.Response:
    return httpx.post(f"{stack.console}{path}", json=body, auth=auth_of(who), timeout=60)


def pending(stack: Stack) -> dict[int, dict[str, Any]]:
    body = httpx.get(f"{stack.console}/api/proposals/pending", timeout=30).json()
    return {p["id"]: p for p in body["proposals"]}


async def copy_of(database_url: str, payload: dict[str, Any], **changes: Any) -> int:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with transaction(make_sessionmaker(engine)) as session:
            return await file_proposal(session, title=payload["title"], payload={**payload, **changes}, created_ms=1)
    finally:
        await engine.dispose()


async def rows(database_url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(plain_database_url(normalise_database_url(database_url)))
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


def brain_version(stack: Stack) -> str | None:
    body = httpx.get(f"{stack.url('brain')}/health", timeout=10).json()
    return (body.get("checks", {}).get("brain") or {}).get("config_version")


def test_propose_then_approve_reject_and_stale(
    stack: Stack, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = post(stack, "/api/config/rollback", {"version_tag": "default"})
    assert base.status_code == 200, base.text
    base_tag = base.json()["version_tag"]

    monkeypatch.setenv("DATABASE_URL", database_url)
    result = CliRunner().invoke(app, ["quant", "propose", "--sample"])
    assert result.exit_code == 0, result.output
    filed = json.loads(result.stdout)
    assert filed["base_version"] == base_tag
    assert filed["proposed"], "the sample should support at least one proposal"
    first = filed["proposed"][0]["id"]

    listed = pending(stack)[first]
    assert listed["stale"] is False
    evidence = listed["evidence"]
    assert evidence["data"] == "sample"
    assert set(evidence["period"]) >= {"from_ms", "to_ms", "held_out_from_ms", "split"}
    for side in ("baseline", "candidate"):
        assert set(evidence[side]) == {"search", "held_out"}
        assert {"return_pct", "max_drawdown_pct", "trades", "score"} <= set(evidence[side]["held_out"])
    assert evidence["candidate"]["held_out"]["score"] > evidence["baseline"]["held_out"]["score"]
    assert listed["diff"]
    assert listed["rationale"]

    # the runbook's Friday script lists it with its evidence
    review = subprocess.run(
        [str(ROOT / "scripts" / "review-ai-recommendations.sh")],
        env={**os.environ, **stack.env}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert review.returncode == 0, review.stderr
    assert f"#{first} " in review.stdout
    assert "held-out" in review.stdout

    # a viewer may not decide; a rejection needs a reason; an unknown proposal is a 404
    assert post(stack, f"/api/proposals/{first}/approve", {}, who="viewer-1").status_code == 403
    assert post(stack, f"/api/proposals/{first}/reject", {"reason": "  "}).status_code == 422
    assert post(stack, "/api/proposals/999999999/approve", {}).status_code == 404

    # reject a copy of it, with a reason
    second = asyncio.run(copy_of(database_url, listed["payload"]))
    rejected = post(stack, f"/api/proposals/{second}/reject", {"reason": "not before the FOMC"})
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "REJECTED"
    assert second not in pending(stack)
    (row,) = asyncio.run(rows(database_url, "SELECT status, decided_by, payload FROM proposals WHERE id = $1", second))
    assert row["status"] == "REJECTED"
    assert row["decided_by"] == "operator-1"
    assert json.loads(row["payload"])["decision"]["reason"] == "not before the FOMC"

    # approve the first: a new config version naming it, which the brain reloads
    approved = post(stack, f"/api/proposals/{first}/approve", {})
    assert approved.status_code == 200, approved.text
    answer = approved.json()
    tag = answer["version_tag"]
    assert f"proposal {first}" in answer["change_summary"]
    assert answer["diff"] == listed["diff"]
    assert first not in pending(stack)
    assert post(stack, f"/api/proposals/{first}/approve", {}).json()["error"]["code"] == "PROPOSAL_DECIDED"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and brain_version(stack) != tag:
        time.sleep(0.2)
    assert brain_version(stack) == tag

    # a proposal made against the old base is stale now: listed so, refused, marked
    third = asyncio.run(copy_of(database_url, listed["payload"]))
    assert pending(stack)[third]["stale"] is True
    refused = post(stack, f"/api/proposals/{third}/approve", {})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "PROPOSAL_STALE"
    (stale,) = asyncio.run(rows(database_url, "SELECT status FROM proposals WHERE id = $1", third))
    assert stale["status"] == "STALE"

    # both decisions are on record: operator actions and audit events with the operator
    actions = asyncio.run(
        rows(database_url, "SELECT action, operator_id FROM operator_actions WHERE action LIKE 'PROPOSAL_%'")
    )
    assert {("PROPOSAL_APPROVE", "operator-1"), ("PROPOSAL_REJECTED", "operator-1")} <= {
        (a["action"], a["operator_id"]) for a in actions
    }
    deadline = time.monotonic() + 10
    audited: set[tuple[str, str]] = set()
    while time.monotonic() < deadline:
        found = asyncio.run(
            rows(
                database_url,
                "SELECT payload->>'status' AS status, operator_id FROM audit_events "
                "WHERE event_type = 'PROPOSAL_DECIDED' AND (payload->>'proposal_id')::bigint = ANY($1::bigint[])",
                [first, second],
            )
        )
        audited = {(a["status"], a["operator_id"]) for a in found}
        if len(audited) == 2:
            break
        time.sleep(0.2)
    assert audited == {("APPROVED", "operator-1"), ("REJECTED", "operator-1")}
